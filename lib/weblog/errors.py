# -*- test-case-name: tests.test_errors -*-
"""
weblog's one hierarchy of errors: each says what is wrong in one line that carries the bad value.

Every one is a C{ValueError}, so callers that only care that input was bad
can catch that; the pages turn L{BadQuery} into a 400, and the server refuses
to start with a L{ConfigError}'s message.
"""

from __future__ import annotations

__all__ = ["BadQuery", "ConfigError", "FormatError", "HtpasswdError", "LogLineError",
           "WeblogError", "shown"]

SHOWN = 80
"""The most characters of a bad value that a message repeats."""


def shown(value: str | bytes, most: int = SHOWN) -> str:
    """A bad value as a message repeats it: quoted, escaped, and cut to C{most} characters."""
    return repr(value[:most])


class WeblogError(ValueError):
    """Something weblog was given is not valid; C{str()} is the one-line reason."""


class ConfigError(WeblogError):
    """A setting (an environment variable, or a file it names) that weblog cannot use."""


class FormatError(ConfigError):
    """
    A C{LogFormat} string that cannot be used.

    @ivar format: the offending format string.
    """

    def __init__(self, format: str, reason: str) -> None:
        super().__init__(f"WEBLOG_FORMAT {shown(format, 60)}: {reason}")
        self.format = format


class HtpasswdError(ConfigError):
    """An htpasswd file that cannot be used."""


class LogLineError(WeblogError):
    """
    A line that is not an access-log entry in any recognised format.

    @ivar line: the offending line, as given.
    @ivar reason: one line saying what is wrong with it.
    """

    def __init__(self, line: str | bytes, reason: str) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: {shown(self.line)}"


class BadQuery(WeblogError):
    """
    A query parameter that is not valid; the message is the reason sent with a 400.

    @ivar name: the parameter's name.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
