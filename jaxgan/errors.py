"""The one exception type that reaches the user as a one-line message."""


class UserError(Exception):
    """Bad input: a config value, a dataset, a workdir.

    The command-line entry points print it as `error: <message>` without a traceback and exit with
    status 2. Raise it with a message that names the problem and the offending value or path.
    """


class Stopped(Exception):
    """Training stopped on a signal after saving a checkpoint at the current step: SIGTERM (preemption)
    or SIGINT (Ctrl-C). The command-line entry points exit with `exit_code` and no traceback: 0 after
    SIGTERM, as clusters expect of a preempted job; 130 after SIGINT, as shells expect of an interrupted
    command."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
