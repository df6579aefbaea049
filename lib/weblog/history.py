# -*- test-case-name: tests.test_history -*-
"""
The server's side of the history: the historian process it runs, and what that one says.

The store (L{weblog.store}) is written and read by one process of its own, the
historian (L{weblog.historian}), which the server starts beside itself and talks
to over its standard input and output with AMP: its reading of the logs and its
database work then take the machine's other core, never the reactor's.  When
the historian stops (a crash, a kill), it is started again after a pause that
grows to C{RESTART_MOST} seconds; it goes on where its store says.  When the
server goes away, however it dies, the historian reads the end of its input and
stops too.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.endpoints import ProcessEndpoint, _ProcessAddress, connectProtocol
from twisted.internet.interfaces import IProcessTransport, IReactorProcess, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.protocols import amp
from twisted.internet.protocol import connectionDone
from twisted.python.components import proxyForInterface
from twisted.python.failure import Failure
from zope.interface import implementer

from weblog.hit import json_text
from weblog.interfaces import IHistory

__all__ = ["OFF", "BigText", "History", "Query", "QueryFailed", "Status"]


class QueryFailed(Exception):
    """A view the history could not answer; C{str()} says why in one sentence."""

_log = Logger()

RESTART_MOST = 30.0
"""The longest pause before the historian is started again."""

OFF: dict[str, Any] = {
    "state": "off", "reason": "", "stored": 0, "bytes_done": 0, "bytes_total": 0,
    "lines_per_second": 0, "seconds_left": None, "oldest": None, "newest": None,
    "size_bytes": 0, "max_bytes": None,
}
"""The C{history} object when there is no store (C{WEBLOG_HISTORY=off})."""


class BigText(amp.Argument):
    """Text of any length, spread over as many AMP values as it needs (each holds 64 KiB)."""

    PIECE = 60_000

    def toBox(self, name: bytes, strings: dict[bytes, bytes], objects: dict[str, Any],  # noqa: N802
              proto: amp.AMP) -> None:
        """Put the text named C{name} into C{strings}, in pieces named C{name}, C{name.2}, ..."""
        data = objects[name.decode("ascii")].encode("utf-8")
        strings[name] = data[:self.PIECE]
        for number, start in enumerate(range(self.PIECE, len(data), self.PIECE), 2):
            strings[name + b".%d" % number] = data[start:start + self.PIECE]

    def fromBox(self, name: bytes, strings: dict[bytes, bytes],  # noqa: N802
                objects: dict[str, Any], proto: amp.AMP) -> None:
        """Put the text whose pieces C{strings} holds into C{objects}."""
        pieces, number = [strings[name]], 2
        while (piece := strings.get(name + b".%d" % number)) is not None:
            pieces.append(piece)
            number += 1
        objects[name.decode("ascii")] = b"".join(pieces).decode("utf-8")


class Query(amp.Command):
    """Ask the historian a view (see L{weblog.queries.answer}), as JSON; its answer as JSON."""

    arguments = [(b"view", BigText())]
    response = [(b"answer", BigText())]
    errors = {QueryFailed: b"QUERY_FAILED"}


class Status(amp.Command):
    """Ask the historian how the store is: the JSON C{history} object, as JSON text."""

    arguments = []
    response = [(b"status", amp.Unicode())]


@implementer(IHistory)
class History:
    """
    The historian process, run and asked for its status every C{interval} seconds.

    @ivar state: the last C{history} object the historian gave (L{OFF}'s keys).
    """

    def __init__(self, reactor: IReactorProcess | None = None,
                 env: Mapping[str, str] | None = None, interval: float = 1.0) -> None:
        """
        @param reactor: runs the historian, and the polls; default the global reactor.
        @param env: the historian's environment (default this process's): its settings.
        """
        if reactor is None:
            from twisted.internet import reactor as default

            reactor = default
        self._reactor = reactor
        self._env = dict(env) if env is not None else None
        self._interval = interval
        self.state: dict[str, Any] = {**OFF, "state": "starting",
                                      "reason": "the historian is starting"}
        self._protocol: amp.AMP | None = None
        self._poll: LoopingCall | None = None
        self._restart_in = 1.0
        self._restarting: Any = None
        self._running = False

    def status(self) -> dict[str, Any]:
        """The C{history} object of the JSON: the store's state and how far it is."""
        return dict(self.state)

    def query(self, view: dict[str, Any]) -> Deferred[dict[str, Any]]:
        """
        Ask the historian a view (see L{weblog.queries.answer}).

        @return: a Deferred of its answer, or failing with L{QueryFailed} saying why.
        """
        if self._protocol is None:
            return fail(QueryFailed(f"the history is {self.state['state']}: "
                                    f"{self.state['reason'] or 'not ready'}"))
        asked = maybeDeferred(self._protocol.callRemote, Query, view=json_text(view))
        asked.addCallback(lambda answer: json.loads(answer["answer"]))

        def failed(failure: Failure) -> Failure:
            if failure.check(QueryFailed):
                return failure
            raise QueryFailed(f"the historian did not answer: {failure.getErrorMessage()}")

        return asked.addErrback(failed)

    @property
    def pid(self) -> int | None:
        """The historian's process id while it runs, else None."""
        if self._protocol is None or self._protocol.transport is None:
            return None
        pid: int | None = self._protocol.transport.pid  # type: ignore[attr-defined]
        return pid

    def start(self) -> None:
        """Start the historian (and start it again whenever it stops)."""
        if self._running:
            return
        self._running = True
        self._spawn()

    def _spawn(self) -> None:
        """Start one historian process and connect to it."""
        self._restarting = None
        env = self._env if self._env is not None else dict(os.environ)
        endpoint = ProcessEndpoint(self._reactor, sys.executable,
                                   [sys.executable, "-m", "weblog.historian"], env=env)
        protocol = _Client(self)
        connected: Deferred[Any] = connectProtocol(endpoint, protocol)
        connected.addCallbacks(self._connected, self._failed)

    def _connected(self, protocol: _Client) -> None:
        """The historian runs: ask it how it is, now and every interval."""
        self._protocol = protocol
        self._poll = LoopingCall(self._ask)
        self._poll.clock = self._reactor  # type: ignore[assignment]
        self._poll.start(self._interval, now=True).addErrback(lambda _: None)

    def _failed(self, failure: Failure) -> None:
        """The historian could not be started: say why, and try again later."""
        self.state = {**self.state, "state": "starting",
                      "reason": f"the historian did not start: {failure.getErrorMessage()}"}
        self._again()

    def _ask(self) -> None:
        """Ask the historian for its status (one question at a time)."""
        if self._protocol is None:
            return
        asked = self._protocol.callRemote(Status)
        asked.addCallbacks(self._told, lambda failure: None)

    def _told(self, answer: dict[str, Any]) -> None:
        """Keep what the historian said."""
        try:
            status = json.loads(answer["status"])
        except ValueError:
            return
        if isinstance(status, dict):
            self.state = {**OFF, **status}
            self._restart_in = 1.0

    def _lost(self) -> None:
        """The historian stopped: start it again after a pause (unless stopping)."""
        self._protocol = None
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        self._poll = None
        if self._running:
            _log.warn("the historian stopped; starting it again in {seconds} s",
                      seconds=self._restart_in)
            self.state = {**self.state, "state": "starting",
                          "reason": "the historian stopped; it is starting again"}
            self._again()

    def _again(self) -> None:
        """Start the historian again after the current pause, which then doubles."""
        if not self._running:
            return
        clock: IReactorTime = self._reactor  # type: ignore[assignment]
        self._restarting = clock.callLater(self._restart_in, self._spawn)
        self._restart_in = min(self._restart_in * 2, RESTART_MOST)

    def stop(self) -> None:
        """Stop the historian: it finishes the batch it is storing and exits."""
        self._running = False
        if self._restarting is not None and self._restarting.active():
            self._restarting.cancel()
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.loseConnection()  # its input ends: it stops


class _Addressed(proxyForInterface(IProcessTransport)):  # type: ignore[misc]
    """A process's transport, with the addresses that AMP asks of every transport."""

    def getPeer(self) -> _ProcessAddress:  # noqa: N802  # Twisted's name
        """The process's address (a process transport has none of its own)."""
        return _ProcessAddress()

    def getHost(self) -> _ProcessAddress:  # noqa: N802  # Twisted's name
        """This end's address."""
        return _ProcessAddress()


class _Client(amp.AMP):
    """The server's end of the AMP connection to the historian."""

    def __init__(self, history: History) -> None:
        super().__init__()
        self._history = history

    def makeConnection(self, transport: Any) -> None:  # noqa: N802  # Twisted's name
        """Connect over the process's pipes (AMP asks for a peer, which a process lacks)."""
        super().makeConnection(_Addressed(transport))

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        """The historian exited (or its pipes closed)."""
        super().connectionLost(reason)
        self._history._lost()
