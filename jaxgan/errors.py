"""The one exception type that reaches the user as a one-line message."""


class UserError(Exception):
    """Bad input: a config value, a dataset, a workdir.

    The command-line entry points print it as `error: <message>` without a traceback and exit with
    status 2. Raise it with a message that names the problem and the offending value or path.
    """
