"""One exception type for problems a user can fix; the CLI turns it into one line and exit 2."""


class UserError(Exception):
    """Bad input: a missing file, a wrong option, an incompatible model."""
