"""User-facing errors.

Anything a user can fix (a bad YAML file, an unknown key, an empty corpus, a corrupt checkpoint,
unreachable storage) raises a subclass of `UserError`. The CLI prints its message as one paragraph,
without a traceback, and exits with `exit_code`. Internal invariants use `assert`.
"""


class UserError(Exception):
    """An error whose message says what is wrong, why, and how to fix it."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A config file, key, value or combination of values is wrong."""


class DataError(UserError):
    """The corpus or a dataset on disk cannot be used."""


class CheckpointError(UserError):
    """A checkpoint cannot be found, read, or does not match the run."""


class StorageError(UserError):
    """Local or remote (S3) storage cannot be reached or written."""

    exit_code = 3


class ClusterError(UserError):
    """A Ray cluster cannot be started or reached in time (launch/ray_driver.py)."""
