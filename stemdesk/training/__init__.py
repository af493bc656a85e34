"""Training side of stemdesk (the `train` extra): networks, weight conversion, ONNX export.

The only package that imports torch; the core never imports it.
"""
