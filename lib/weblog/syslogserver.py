# -*- test-case-name: tests.test_syslogserver -*-
"""
Receive access-log lines over syslog, UDP and TCP, into the spool (L{weblog.spool}).

A message is RFC 3164 or RFC 5424 (L{weblog.syslogmessage}); over TCP each is
framed by RFC 6587, octet-counted or ended by a newline
(L{weblog.syslogframing}).  Its text is one line of its sender's spool file,
the sender being its host (the sending address when it names none) and tag.

Bounded whatever is sent: a message is cut at L{MAX_MESSAGE} bytes (and
counted), at most L{MOST_CONNECTIONS} TCP connections are open, L{MOST_PER_PEER}
from one address (more are closed at once, and counted), and the reactor handles at most L{STEP}
messages before it turns to other work: a UDP port stops reading for the
turn, and a TCP connection is paused while what it sent is handled in slices.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorTCP, IReactorTime, IReactorUDP
from twisted.internet.protocol import DatagramProtocol, Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from weblog.spool import Spool
from weblog.syslogframing import Framing
from weblog.syslogmessage import MalformedMessage, clean_host, parse_message

__all__ = ["MAX_MESSAGE", "MOST_CONNECTIONS", "STEP", "Receiver"]

_log = Logger()

MAX_MESSAGE = 16 * 1024
"""The most bytes of a message kept; a longer one is cut to it, and counted."""
MOST_CONNECTIONS = 256
"""The most TCP connections open at once."""
MOST_PER_PEER = 32
"""The most TCP connections open at once from one address."""
STEP = 500
"""The most messages handled in one turn of the reactor, per port or connection."""
READ_BYTES = 16 * 1024
"""The most bytes read from a TCP connection at once (Twisted's default, 64 KiB of tiny
octet-counted frames, takes the framing up to 25 ms)."""
TRANSPORTS = ("udp", "tcp")


class Receiver:
    """
    Listens where the settings say, and spools what every listener receives, counted.

    @ivar messages: messages received, by transport.
    @ivar malformed: of them, those that were not syslog messages, by transport.
    @ivar cut: of them, those longer than L{MAX_MESSAGE}, cut to it, by transport.
    @ivar refused: TCP connections closed at once, past L{MOST_CONNECTIONS} (or
        L{MOST_PER_PEER} from one address).
    @ivar connections: TCP connections open now.
    """

    def __init__(self, spool: Spool, reactor: Any) -> None:
        """
        @param spool: where the messages' lines go.
        @param reactor: listens, and schedules the slices (an L{IReactorUDP},
            L{IReactorTCP} and L{IReactorTime}).
        """
        self.spool = spool
        self.reactor = reactor
        self.messages = dict.fromkeys(TRANSPORTS, 0)
        self.malformed = dict.fromkeys(TRANSPORTS, 0)
        self.cut = dict.fromkeys(TRANSPORTS, 0)
        self.refused = 0
        self.connections = 0
        self.peers: Counter[str] = Counter()
        """The TCP connections open, by address."""
        self.streams: set[_Stream] = set()
        self.listening: list[str] = []
        self.problems: list[str] = []
        self._ports: list[Any] = []

    def listen(self, where: Sequence[tuple[str, str, int]]) -> None:
        """
        Listen at each C{(transport, host, port)}; one that cannot listen is a problem of
        L{status}, and the others still do.
        """
        for transport, host, port in where:
            name = f"{transport}:{host}:{port}"
            try:
                if transport == "udp":
                    udp: IReactorUDP = self.reactor
                    listening = udp.listenUDP(port, _Datagrams(self), interface=host,
                                              maxPacketSize=MAX_MESSAGE + 1)
                else:
                    tcp: IReactorTCP = self.reactor
                    listening = tcp.listenTCP(port, _Streams(self), interface=host)
            except (CannotListenError, ValueError, OSError) as error:
                reason = error.socketError if isinstance(error, CannotListenError) else error
                problem = f"cannot listen on {name}: {reason}"
                _log.error("syslog: {problem}", problem=problem)
                self.problems.append(problem)
                continue
            self._ports.append(listening)
            self.listening.append(name)

    def received(self, data: bytes, peer: str, transport: str) -> None:
        """Spool one message from C{peer} over C{transport}, or count it malformed."""
        self.messages[transport] += 1
        try:
            message = parse_message(data)
        except MalformedMessage:
            self.malformed[transport] += 1
            return
        host = message.host or clean_host(peer)
        if transport == "udp" and not self.spool.accepts(host, message.tag):
            self.spool.lost += 1  # its file waits for the history: UDP cannot be made to wait
            return
        self.spool.add(host, message.tag, message.text)

    def free(self) -> None:
        """No spool file waits for the history any more: the TCP senders go on."""
        for stream in list(self.streams):
            stream.schedule()

    def status(self) -> dict[str, Any]:
        """The JSON C{syslog} object: where it listens, its state and its counts."""
        reason = "; ".join(self.problems) or self.spool.reason
        return {**self.spool.status(), "listening": list(self.listening),
                "state": "failing" if reason else "ok", "reason": reason,
                "messages": dict(self.messages), "malformed": dict(self.malformed),
                "cut": dict(self.cut), "connections": self.connections, "refused": self.refused}

    def stop(self) -> None:
        """Stop listening; handle what the connections sent and close them; write what waits
        to the spool."""
        for port in self._ports:
            port.stopListening()
        self._ports = []
        self.listening = []
        for stream in list(self.streams):
            stream.finish()
        self.spool.close()


class _Datagrams(DatagramProtocol):
    """One message a datagram; at most L{STEP} of them a turn of the reactor."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self._turn = 0
        self._stopped = False

    def datagramReceived(self, data: bytes, addr: Any) -> None:  # noqa: N802  # Twisted's name
        """Spool the datagram's message, cut if it is too long."""
        receiver = self.receiver
        if len(data) > MAX_MESSAGE:
            data = data[:MAX_MESSAGE]
            receiver.cut["udp"] += 1
        receiver.received(data, str(addr[0]), "udp")
        if not self._turn:
            clock: IReactorTime = receiver.reactor
            clock.callLater(0, self._next_turn)
        self._turn += 1
        if self._turn >= STEP and not self._stopped:
            # the port reads datagrams while it has read fewer bytes than this, whatever their
            # number (empty ones add none): end the read here, and read on at the next turn
            self._stopped = True
            port: Any = self.transport
            port.maxThroughput = 0

    def _next_turn(self) -> None:
        """A new turn of the reactor: the port reads as it does by default again."""
        self._turn = 0
        if self._stopped:
            self._stopped = False
            port: Any = self.transport
            del port.maxThroughput  # the class's again


class _Stream(Protocol):
    """One TCP connection: its frames, handled L{STEP} at a time, the connection paused
    meanwhile."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.framing = Framing(MAX_MESSAGE)
        self.waiting: deque[bytes] = deque()
        self.peer = ""
        self._paused = self._lost = self._scheduled = False
        self._counted = (0, 0)
        """What the framing had cut, and found not framing, when last counted."""

    def connectionMade(self) -> None:  # noqa: N802  # Twisted's name
        """Count the connection; close it at once past L{MOST_CONNECTIONS}, or past
        L{MOST_PER_PEER} from its address."""
        receiver, connection = self.receiver, self._connection()
        self.peer = str(getattr(connection.getPeer(), "host", ""))
        if receiver.connections >= MOST_CONNECTIONS \
                or receiver.peers[self.peer] >= MOST_PER_PEER:
            receiver.refused += 1
            connection.abortConnection()
            self.receiver = _CLOSED
            return
        receiver.connections += 1
        receiver.peers[self.peer] += 1
        receiver.streams.add(self)
        connection.bufferSize = READ_BYTES

    def _connection(self) -> Any:
        """The TCP connection (a transport that pauses and resumes, and knows its peer)."""
        return self.transport

    def dataReceived(self, data: bytes) -> None:  # noqa: N802  # Twisted's name
        """Frame what came; handle the frames."""
        if self.receiver is not _CLOSED:
            self.waiting.extend(self.framing.feed(data))
            self._count_cut()
            if not self._paused:
                self._handle()

    def _count_cut(self) -> int:
        """Count the messages the framing cut since last asked; return its framing faults
        since then (a bad count's frame is read as a line, counted if it is no message)."""
        framing, (cut, malformed) = self.framing, self._counted
        self.receiver.cut["tcp"] += framing.cut - cut
        self._counted = (framing.cut, framing.malformed)
        return framing.malformed - malformed

    def _ended(self) -> None:
        """The stream is over: its unfinished last line is a message; an unfinished octet-counted
        one is a malformed message."""
        self.waiting.extend(self.framing.end())
        dropped = self._count_cut()
        self.receiver.messages["tcp"] += dropped
        self.receiver.malformed["tcp"] += dropped

    def schedule(self) -> None:
        """Handle what waits at the reactor's next turn (once, however often asked)."""
        if not self._scheduled and self.receiver is not _CLOSED:
            self._scheduled = True
            clock: IReactorTime = self.receiver.reactor
            clock.callLater(0, self._handle)

    def _pause(self) -> None:
        """Read no more from the connection until what waits is handled."""
        if not self._paused:
            self._paused = True
            if not self._lost:
                self._connection().pauseProducing()

    def _handle(self) -> None:
        """Handle up to L{STEP} waiting messages; pause the connection while more wait, and
        while a spool file waits for the history (L{Receiver.free} goes on)."""
        self._scheduled = False
        receiver, waiting = self.receiver, self.waiting
        if receiver is _CLOSED:
            return
        if waiting and receiver.spool.behind:
            self._pause()
            return
        for _ in range(min(STEP, len(waiting))):
            receiver.received(waiting.popleft(), self.peer, "tcp")
        if waiting:
            self._pause()
            self.schedule()
        elif self._paused and not self._lost:
            self._paused = False
            self._connection().resumeProducing()
        elif self._lost:
            self._forget()

    def _forget(self) -> None:
        """The connection is gone and what it sent handled: count it gone."""
        receiver = self.receiver
        receiver.connections -= 1
        receiver.peers[self.peer] -= 1
        if not receiver.peers[self.peer]:
            del receiver.peers[self.peer]
        receiver.streams.discard(self)
        self.receiver = _CLOSED

    def finish(self) -> None:
        """Handle all that waits, at once (the server stops), and close the connection."""
        if self.receiver is _CLOSED:
            return
        self._ended()
        receiver = self.receiver
        while self.waiting:
            receiver.received(self.waiting.popleft(), self.peer, "tcp")
        self._forget()
        if not self._lost:
            self._connection().abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        """Handle what waits (it was received); then count the connection gone."""
        if self.receiver is _CLOSED or self._lost:
            return
        self._lost = True
        self._ended()
        if not self._paused:  # else the slices under way go on to the last
            self._handle()


class _Streams(ServerFactory):
    """Makes a L{_Stream} for each TCP connection."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def buildProtocol(self, addr: Any) -> _Stream:  # noqa: N802  # Twisted's name
        """A stream for the connection from C{addr}."""
        return _Stream(self.receiver)


_CLOSED: Any = object()
"""Stands for the receiver of a connection refused past L{MOST_CONNECTIONS}."""
