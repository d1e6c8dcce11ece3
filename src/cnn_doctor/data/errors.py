"""Errors a user can cause through their data; the CLI prints them as one line."""


class DataError(ValueError):
    """Missing, corrupt or malformed data files; the message names the file and the fix."""
