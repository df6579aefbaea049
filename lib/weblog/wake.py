# -*- test-case-name: tests.test_wake -*-
"""
Ask a weblog server that is starting for one page, so that it follows its logs and listens for
syslog from its start, not from its first visitor's request.

The registry idiom makes the shared Records when a page first asks for it,
and Records starts the history and the syslog listeners; a plain
C{twistd web --path www} does nothing until then.  C{./run.sh} runs this beside
the server; a service manager can too (C{python -m weblog.wake URL}).
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request

__all__ = ["PAGE", "main", "wake"]

PAGE = "/weblog.rpy/json?limit=1"
"""What is asked for: one hit's JSON, weblog's own request (not counted as traffic)."""


def wake(base: str, timeout: float = 60.0, pause: float = 0.2, pid: int | None = None) -> str:
    """
    Ask C{base} (C{http://HOST:PORT}) for L{PAGE} until it answers, whatever it answers (a
    401 asks for credentials, but the page ran).

    @param pid: the server's process: once it is gone, stop asking.
    @return: C{""} once answered, else why not, in one line.
    """
    url = base.rstrip("/") + PAGE
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):  # noqa: S310  # our own http URL
                return ""
        except urllib.error.HTTPError:
            return ""  # answered: the page ran
        except (urllib.error.URLError, OSError) as error:
            if pid is not None and not _running(pid):
                return f"the server (process {pid}) stopped before it answered"
            if time.monotonic() >= end:
                return f"{url} did not answer within {timeout:.0f} s: {error}"
        time.sleep(pause)


def _running(pid: int) -> bool:
    """Whether the process C{pid} still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    """C{python -m weblog.wake http://HOST:PORT [PID]}: wake the server there (process PID, if
    given: a server that stopped is not waited for); 0 once it answered."""
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or not args[0].startswith(("http://", "https://")) \
            or (len(args) == 2 and not args[1].isdigit()):
        print("usage: python -m weblog.wake http://HOST:PORT [PID]", file=sys.stderr)
        return 2
    problem = wake(args[0], pid=int(args[1]) if len(args) == 2 else None)
    if problem:
        print(f"weblog.wake: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
