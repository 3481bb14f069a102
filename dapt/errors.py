"""The one exception type for mistakes a user can fix (bad config, missing input, impossible plan)."""


class UserError(Exception):
    """Raised for bad user input; the CLI prints the message on one line and exits 2, with no traceback.

    The message must say what is wrong *and* what to change, naming the config key, file or field.
    """
