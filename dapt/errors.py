"""The one exception type for mistakes a user can fix (bad config, missing input, impossible plan)."""


class UserError(Exception):
    """Raised for bad user input; the CLI prints the message on one line and exits 2, with no traceback.

    The message must say what is wrong *and* what to change, naming the config key, file or field.
    """


class StageFailed(Exception):
    """A data stage ran but its result cannot be trusted: it read nothing, or its counts do not reconcile.

    Not the user's mistake to fix in the config, but no traceback either: the CLI prints the message on one
    line and exits 1, and the stage's success marker is not written, so a rerun starts it again.
    """
