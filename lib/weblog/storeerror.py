# -*- test-case-name: tests.test_store -*-
"""Why the store cannot be used, in one line: the L{StoreError} of a DuckDB or OS error."""

from __future__ import annotations

import duckdb

from weblog.errors import WeblogError

__all__ = ["StoreError", "failing", "other_version", "reason_of", "state_of"]


class StoreError(WeblogError):
    """
    The store cannot be opened or written; C{str()} is the one-line reason.

    @ivar state: C{"locked"}, C{"unwritable"}, C{"corrupt"}, C{"full"}, or C{"older"} (a
        store of an older schema version, which is no trouble: it is set aside and rebuilt).
    @ivar version: the older schema version, when C{older}.
    """

    def __init__(self, state: str, reason: str, version: int = 0) -> None:
        super().__init__(reason)
        self.state = state
        self.version = version


def state_of(error: BaseException) -> str:
    """Which state a DuckDB or OS error puts the store in."""
    text = str(error)
    if ("not a valid DuckDB database" in text or "Corrupt" in text or "checksum" in text
            or isinstance(error, (duckdb.SerializationException, duckdb.InternalException))):
        return "corrupt"  # before the lock: a corrupt block's message says "block"
    if "Could not set lock" in text or "Conflicting lock" in text:
        return "locked"
    if "No space left" in text or getattr(error, "errno", None) == 28:
        return "full"
    return "unwritable"


def other_version(path: str, version: str, current: int) -> StoreError:
    """The StoreError of the store at C{path}, whose schema is C{version}, not C{current}:
    C{older} for an older version, else C{corrupt} (a newer weblog's, or not a version)."""
    if version.isascii() and version.isdigit() and 0 < int(version) < current:
        return StoreError("older", f"{path}: schema version {version} is older than this"
                                   f" weblog's {current}", int(version))
    return StoreError("corrupt", f"{path}: schema version {version[:20]!r}, not {current}")


def failing(path: str, error: BaseException) -> StoreError:
    """The StoreError of a DuckDB or OS error on the store at C{path}."""
    return StoreError(state_of(error), f"{path}: {reason_of(error)}")


def reason_of(error: BaseException) -> str:
    """A DuckDB or OS error in one line, without DuckDB's advice and links for developers."""
    text = " ".join(str(error).split())
    return text.split(" Possible solutions:")[0].split(" See also ")[0][:300]
