"""User-facing errors.

A :class:`UserError` is a problem with the user's input (a file, a symbol, a parameter) that the
user can fix. Its message is one line that names what is wrong and how to fix it; the CLI prints it
to stderr and exits with code 2 (no traceback unless ``--debug``).
"""


class UserError(Exception):
    """Bad input the user can fix. ``str(err)`` is a single actionable line."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DataError(UserError):
    """A price file, download or cache entry that cannot be used as daily bars."""
