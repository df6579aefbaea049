# -*- test-case-name: tests.test_counter -*-
"""
The article's view counter, L{Counter}: a count that survives restarts, one server per state dir.

Kept in C{$WEBLOG_STATE/counter.json}, written atomically, and guarded by a
C{flock} on C{weblog.lock} so that two servers never share a count.
L{persist} re-exports it, as the article's readers know it (C{from persist
import Counter}).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import suppress
from itertools import count
from typing import Any, BinaryIO

from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from weblog import settings
from weblog.files import NotRegularFile, create_unique, open_for_update, open_regular
from weblog.interfaces import ICounter
from weblog.slices import default_reactor

__all__ = ["LOCK_NAME", "Counter", "ICounter", "state_in_use"]

_log = Logger()


@implementer(ICounter)
class Counter:
    """
    A view counter whose value is kept in C{$WEBLOG_STATE/counter.json}.

    Increments are written at most C{delay} seconds after they happen, and at
    once by L{save} (which L{start} arranges to run at reactor shutdown), so a
    clean stop loses nothing and a crash loses at most the last C{delay}
    seconds.  Writes are atomic: a temporary file (created exclusively, under a
    name of its own), fsync, then rename.

    Only one server may use a state directory: the Counter takes an exclusive
    C{flock} of C{weblog.lock} there when it is made, and holds it until
    L{stop} (or the process ends).  While another server holds it, views are
    not counted, L{problem} says why, and each view looks again.  If the lock
    cannot be taken at all (say, the directory is read-only), that is logged
    and the count is kept in memory only.

    @ivar problem: why views are not counted, in one line, else C{""}.
    """

    def __init__(
        self, state_dir: str | None = None, clock: IReactorTime | None = None, delay: float = 1.0
    ) -> None:
        """
        @param state_dir: the directory for the state file; default
            C{$WEBLOG_STATE}, else C{var}.
        @param clock: schedules the delayed write; default the global reactor.
        @param delay: the most seconds an increment waits before it is written.
        """
        directory = state_dir or settings.state_dir()
        self.path = os.path.join(directory, "counter.json")
        self._clock = clock
        self._delay = delay
        self._pending: IDelayedCall | None = None
        self._trigger: Any = None
        self._attempts = count()
        self.problem = ""
        self._lock: BinaryIO | None = None
        self._lock_error = ""
        # Another server's count is not this one's to read: wait for its lock instead.
        self.value = 0 if not self._claim() and self.problem else self._load()

    def _claim(self) -> bool:
        """Hold the state directory's lock, taking it if no other server holds it; say whether."""
        if self._lock is not None:
            return True
        directory = os.path.dirname(self.path) or "."
        try:
            os.makedirs(directory, exist_ok=True)
            lock = open_for_update(os.path.join(directory, LOCK_NAME))
        except OSError as error:
            return self._unlocked(error)
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            problem = _in_use(directory, lock)
            lock.close()
            if problem != self.problem:
                _log.error("views are not counted: {problem}", problem=problem)
            self.problem = problem
            return False
        except OSError as error:
            lock.close()
            return self._unlocked(error)
        with suppress(OSError):  # the process id only makes a refusal's message clearer
            os.ftruncate(lock.fileno(), 0)
            os.pwrite(lock.fileno(), f"{os.getpid()}\n".encode(), 0)
        if self.problem:
            _log.info("views are counted again, in {path}", path=self.path)
        self._lock, self.problem, self._lock_error = lock, "", ""
        return True

    def _unlocked(self, error: OSError) -> bool:
        """Log (once for each reason) that the state directory cannot be locked; return False."""
        reason = error.strerror or str(error)
        if reason != self._lock_error:
            _log.error("cannot lock {path}: {error}; the view count is kept in memory only",
                       path=os.path.join(os.path.dirname(self.path) or ".", LOCK_NAME),
                       error=reason)
        self.problem, self._lock_error = "", reason
        return False

    def _load(self) -> int:
        """Read the saved value; set a state file that holds no count aside and start from 0."""
        try:
            with open_regular(self.path) as state:
                data = state.read(4096)
        except FileNotFoundError:
            return 0
        except NotRegularFile as error:  # a FIFO there would block the read: not a count
            return self._set_aside(error.strerror or str(error))
        except OSError as error:
            _log.error("cannot read the view count from {path}: {error}; counting from 0",
                       path=self.path, error=error.strerror or error)
            return 0
        try:
            value = json.loads(data)["value"]
            if type(value) is not int or value < 0:
                raise ValueError(f"value is not a count: {value!r}")
        except Exception as error:  # whatever the bytes: 4,096 "[" are a RecursionError
            return self._set_aside(f"{type(error).__name__}: {error}")
        return value

    def _set_aside(self, reason: str) -> int:
        """Rename the state file to a name of its own, log why, and return 0 to count from."""
        clock = self._clock or default_reactor()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(clock.seconds()))
        base = f"{self.path}.corrupt-{stamp}"
        aside = None
        try:
            # Take a name no other file has (exclusively), then rename the state over it.
            aside, placeholder = create_unique(
                base if n == 0 else f"{base}-{n}" for n in range(1000))
            placeholder.close()
            os.replace(self.path, aside)
        except OSError as error:
            if aside is not None:
                with suppress(OSError):
                    os.unlink(aside)
            _log.error(
                "counter state {path} is corrupt ({reason}) and cannot be set aside: {error};"
                " counting from 0", path=self.path, reason=reason, error=error.strerror or error,
            )
            return 0
        _log.error(
            "counter state {path} is corrupt ({reason}); set aside as {aside}, starting at 0",
            path=self.path, reason=reason, aside=aside,
        )
        return 0

    def start(self, reactor: IReactorCore | None = None) -> None:
        """
        Save at reactor shutdown.

        @param reactor: the reactor whose shutdown saves; default the global one.
        """
        reactor = reactor or default_reactor()
        self._trigger = (reactor, reactor.addSystemEventTrigger("before", "shutdown", self.save))

    def stop(self) -> None:
        """Save now, stop saving at shutdown, and let go of the state directory's lock."""
        self.save()
        if self._trigger is not None:
            reactor, trigger = self._trigger
            reactor.removeSystemEventTrigger(trigger)
            self._trigger = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def increment(self) -> None:
        """Add one view; it is written within C{delay} seconds."""
        if self.problem:  # another server held the state at the last look: look again
            if not self._claim() and self.problem:
                return
            self.value = self._load()
        self.value += 1
        if self._pending is None:
            clock = self._clock or default_reactor()
            self._pending = clock.callLater(self._delay, self.save)

    def getValue(self) -> int:
        """Return the number of views so far."""
        return self.value

    def save(self) -> None:
        """Write the value now, atomically; if that fails, log why and keep counting."""
        if self._pending is not None:
            if self._pending.active():
                self._pending.cancel()
            self._pending = None
        if self.problem or not self._claim():
            return  # another server's state, or no lock to be had (logged): kept in memory
        temporary = None
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            # A name of this process's own, created exclusively: never another server's
            # temporary file, never a file a link planted at the name points to.
            prefix = f"{self.path}.tmp-{os.getpid()}-"
            temporary, state = create_unique(
                f"{prefix}{next(self._attempts)}" for _ in range(100))
            with state:
                state.write(json.dumps({"value": self.value}).encode())
                state.flush()
                os.fsync(state.fileno())
            os.replace(temporary, self.path)
        except OSError as error:
            if temporary is not None:
                with suppress(OSError):
                    os.unlink(temporary)
            # The count stays in memory; the next view or a clean stop tries again.
            _log.error("cannot save the view count to {path}: {error}", path=self.path,
                       error=error.strerror or error)


LOCK_NAME = "weblog.lock"
"""The file in the state directory whose C{flock} a server holds while it uses the directory."""


def _in_use(directory: str, lock: BinaryIO) -> str:
    """The one-line reason why C{directory}, whose lock file is open as C{lock}, is refused."""
    try:
        pid = os.pread(lock.fileno(), 24, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    holder = f" (pid {pid})" if pid.isdigit() else ""
    return (f"WEBLOG_STATE {directory} is in use by another weblog server{holder}; "
            "each server needs its own")


def state_in_use(directory: str) -> str:
    """
    Why another weblog server holds C{directory}'s lock, in one line, or C{""} if none does.

    This only looks: it never creates the lock file, and holds no lock when it returns.
    """
    try:
        lock = open_regular(os.path.join(directory, LOCK_NAME))
    except OSError:
        return ""  # no lock file: no server has used the directory yet
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _in_use(directory, lock)
        except OSError:
            return ""
    return ""
