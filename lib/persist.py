# -*- test-case-name: tests.test_persist -*-
"""
The article's shared objects, as its pages know them: L{Counter} and L{Records}.

An .rpy is executed again on every request, so anything that must outlive a
request lives in the site registry, keyed by the interfaces of
L{weblog.interfaces}, and is fetched with the article's idiom::

    records = registry.getComponent(IRecords)
    if records is None:
        records = Records()
        records.start()
        registry.setComponent(IRecords, records)

Here L{Records} takes its logs, its format and its size from the settings
(L{weblog.settings}); the work is L{weblog.records.Records}'s.
"""

from __future__ import annotations

import time
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from weblog import records, settings
from weblog.counter import Counter
from weblog.errors import ConfigError
from weblog.following import LogFollower
from weblog.history import History
from weblog.interfaces import ICounter, IRecords
from weblog.logformat import compile_format
from weblog.parsing import AUTO, LineParser
from weblog.spool import HEADER, Spool, spool_files
from weblog.syslogserver import Receiver

__all__ = ["Counter", "ICounter", "IRecords", "Records"]

_log = Logger()

EVERY_LINE = 1 << 62
"""The read-back of a sender's spool file made while the server runs: all of it."""


class Records(records.Records):
    """
    The hits of the logs the settings name (C{$WEBLOG_LOG}), in their format, and of the
    lines received over syslog (C{$WEBLOG_SYSLOG}), through their spool.

    @ivar receiver: receives syslog, once started; None without C{$WEBLOG_SYSLOG} (or with a
        test's clock).
    """

    def __init__(
        self,
        path: str | None = None,
        keep: int | None = None,
        clock: IReactorTime | None = None,
        interval: float = 1.0,
        slice_bytes: int = 64 * 1024,
        format: str | None = None,
        ring_bytes: int | None = None,
    ) -> None:
        """
        @param path: the log to follow, or several separated by C{:}; default
            C{$WEBLOG_LOG}, else C{var/access.log}.
        @param keep: how many recent hits to keep; default C{$WEBLOG_KEEP}, else 10000.
        @param clock: drives the polling loop and the followers' linger; default the
            global reactor.
        @param interval: seconds between polls once started.
        @param slice_bytes: the most bytes read in one slice of work.
        @param format: an Apache C{LogFormat} string for logs auto-detection cannot
            read; default C{$WEBLOG_FORMAT}, else auto-detection.
        @param ring_bytes: the most bytes of lines kept in all; default C{keep} KiB, at
            least 32 MiB.

        A bad C{$WEBLOG_KEEP} or format is not raised: the logs are then not
        followed, and L{status} says C{"misconfigured"} with the reason.
        """
        path = path or settings.log_path()
        parser: LineParser = AUTO
        problem = ""
        listen: list[tuple[str, str, int]] = []
        try:
            listen = settings.syslog_listen()
            keep = settings.keep() if keep is None else keep
            format = settings.log_format() if format is None else format
            if format:
                parser = compile_format(format)
        except ConfigError as error:
            problem = str(error)
            keep = keep or settings.DEFAULT_KEEP
            _log.error("weblog cannot follow {path}: {problem}", path=path, problem=problem)
        history = None
        try:
            # with the reactor (not a test's clock): the store runs as a process of its own
            if clock is None and not problem and settings.history():
                history = History()
        except ConfigError as error:
            problem = str(error)
            _log.error("weblog cannot keep its history: {problem}", problem=problem)
        now = clock.seconds if clock is not None else time.monotonic
        followers = [LogFollower(part, read_back=keep, now=now)
                     for part in path.split(":") if part and not problem]
        spool = settings.spool_path()
        if listen and not problem:
            followers += [LogFollower(spooled, read_back=keep, now=now, source=source,
                                      header=HEADER) for spooled, source in spool_files(spool)]
        super().__init__(followers, parser, keep, clock, interval, slice_bytes, ring_bytes,
                         path=path, problem=problem, history=history, sources=bool(listen))
        self.receiver: Receiver | None = None
        self._listen, self._now, self._trigger = listen, now, None
        if listen and not problem and clock is None:
            from twisted.internet import reactor

            self.receiver = Receiver(Spool(spool, reactor, history is not None,
                                           on_new=self._new_sender, on_written=self.wake,
                                           on_free=lambda: self._free()), reactor)
            self._trigger = reactor.addSystemEventTrigger("before", "shutdown",
                                                          self.receiver.stop)

    def _free(self) -> None:
        """The spool no longer waits for the history: the receiver's TCP senders go on."""
        if self.receiver is not None:
            self.receiver.free()

    def _new_sender(self, path: str, source: str) -> None:
        """Follow the spool file made for a new sender, from its start."""
        self.add_follower(LogFollower(path, read_back=EVERY_LINE, now=self._now, source=source,
                                      header=HEADER))

    def start(self) -> None:
        """Start following the logs, and listening for syslog."""
        super().start()
        if self.receiver is not None and not self.receiver.listening:
            self.receiver.listen(self._listen)

    def stop(self) -> None:
        """Stop listening for syslog, and following the logs."""
        if self.receiver is not None:
            self.receiver.stop()
            if self._trigger is not None:
                from twisted.internet import reactor

                reactor.removeSystemEventTrigger(self._trigger)
                self._trigger = None
        super().stop()

    def status(self) -> dict[str, Any]:
        """The JSON C{log} object; with C{syslog}, the receiver's, when it listens."""
        status = super().status()
        if self.receiver is not None:
            status["syslog"] = self.receiver.status()
        return status
