"""stemdesk: separate a song into stems and practise with them."""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the checkout or installed tree that holds `models/` and `resources/`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
