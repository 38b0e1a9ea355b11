"""The error a user's settings raise (re-exported by ``config``; here so that the variants' declarations,
which ``config`` consults, need not import ``config``)."""


class ConfigError(ValueError):
    """A setting the user chose cannot work; the message says which and why."""
