"""The one exception type for errors a user can cause."""


class StemdeskError(Exception):
    """A problem the user can fix (bad file, unknown model, unwritable folder...).

    Its message is one human-readable line; the CLI and the GUI show it as is,
    never with a traceback.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
