# -*- test-case-name: tests.test_syslogserver -*-
"""Tests for L{weblog.syslogserver}: syslog over UDP and TCP, into the spool, bounded."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from twisted.internet import defer, reactor, threads
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import StringTransport
from twisted.trial import unittest
from weblog import syslogserver
from weblog.spool import HEADER, Spool
from weblog.syslogserver import MAX_MESSAGE, STEP, Receiver, _Datagrams, _Stream

from persist import IRecords

from tests.support import SiteCase, combined, setEnvironment
from tests.test_hostile import STALL, LagProbe

NGINX = (b'<190>Dec  7 19:00:01 web1 nginx: 127.0.0.1 - - [07/Dec/2026:19:00:01 +0000] '
         b'"GET /%d HTTP/1.1" 200 612 "-" "curl/8.5.0"')
"""What nginx sends for a hit (C{access_log syslog:server=...,tag=nginx}), numbered."""


def free_port(kind: int) -> int:
    """A port of 127.0.0.1 that nothing listens on now, for C{kind} (a socket type)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@defer.inlineCallbacks
def until(case: unittest.TestCase, done: Any, timeout: float = 10.0) -> Any:
    """Wait (on the real reactor) until C{done()} is true; fail C{case} past C{timeout}."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            case.fail(f"not done within {timeout} s")
        yield deferLater(reactor, 0.02, lambda: None)


class _ReceiverCase(unittest.TestCase):
    """A receiver whose spool is a fresh directory, driven by C{self.clock}."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        self.clock = Clock()

    def receiver(self, where: Any = None) -> Receiver:
        """A receiver over the test's spool, listening with the real reactor when C{where}
        is given (scheduling on it then too), else scheduling on the test's clock."""
        clock: Any = reactor if where else self.clock
        made = Receiver(Spool(self.directory, clock, False), reactor if where else self.clock)
        if where:
            made.listen(where)
            self.addCleanup(made.stop)
        return made

    def spooled(self, name: str) -> list[bytes]:
        """The lines of a spool file, without its header."""
        with open(os.path.join(self.directory, name), "rb") as file:
            lines = file.read().split(b"\n")[:-1]
        self.assertTrue(lines[0].startswith(HEADER))
        return lines[1:]

    def until(self, done: Any, timeout: float = 10.0) -> Any:
        """Wait until C{done()} is true (see L{until})."""
        return until(self, done, timeout)


class ListeningTests(_ReceiverCase):
    """L{Receiver.listen}: real sockets on 127.0.0.1."""

    @defer.inlineCallbacks
    def test_udp(self) -> Any:
        """Each datagram is a message; its line goes to its sender's file, in order; one that
        is not syslog is counted, one too long is cut and counted."""
        port = free_port(socket.SOCK_DGRAM)
        receiver = self.receiver([("udp", "127.0.0.1", port)])
        self.assertEqual(receiver.listening, [f"udp:127.0.0.1:{port}"])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for number in range(3):
                sender.sendto(NGINX % number, ("127.0.0.1", port))
            sender.sendto(b"no syslog here", ("127.0.0.1", port))
            sender.sendto(b"<13>Dec  7 19:00:01 big t: " + b"x" * MAX_MESSAGE,
                          ("127.0.0.1", port))
        yield self.until(lambda: sum(receiver.messages.values()) == 5)
        receiver.spool.flush()
        self.assertEqual(self.spooled("web1~nginx.log"),
                         [(NGINX % number).split(b"nginx: ")[1] for number in range(3)])
        [cut] = self.spooled("big~t.log")
        self.assertEqual(len(cut), MAX_MESSAGE - len(b"<13>Dec  7 19:00:01 big t: "))
        status = receiver.status()
        self.assertEqual((status["messages"], status["malformed"], status["cut"]),
                         ({"udp": 5, "tcp": 0}, {"udp": 1, "tcp": 0}, {"udp": 1, "tcp": 0}))
        self.assertEqual((status["state"], status["lines"], status["senders"]), ("ok", 4, 2))

    @defer.inlineCallbacks
    def test_tcpFramings(self) -> Any:
        """Over TCP, octet-counted and LF-ended frames mixed; a message without a host is its
        sending address's; the last line, unended, counts when the connection closes."""
        port = free_port(socket.SOCK_STREAM)
        receiver = self.receiver([("tcp", "127.0.0.1", port)])
        first, second = NGINX % 1, b"<13>web2: a line without a host"
        stream = (b"%d %s" % (len(first), first) + second + b"\n" + b"<13>web2: last")

        def send() -> None:
            with socket.create_connection(("127.0.0.1", port)) as sender:
                sender.sendall(stream)

        yield threads.deferToThread(send)
        yield self.until(lambda: receiver.messages["tcp"] == 3)
        receiver.spool.flush()
        self.assertEqual(self.spooled("web1~nginx.log"), [first.split(b"nginx: ")[1]])
        self.assertEqual(self.spooled("127.0.0.1~web2.log"),
                         [b"a line without a host", b"last"])
        yield self.until(lambda: receiver.connections == 0)

    def test_cannotListen(self) -> None:
        """A place it cannot listen at is the state's reason; the other places still listen."""
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = free_port(socket.SOCK_DGRAM)
        receiver = self.receiver([("tcp", "127.0.0.1", port), ("udp", "127.0.0.1", free),
                                  ("udp", "localhost", free)])
        status = receiver.status()
        self.assertEqual(status["state"], "failing")
        self.assertIn(f"cannot listen on tcp:127.0.0.1:{port}", status["reason"])
        self.assertIn(f"cannot listen on udp:localhost:{free}", status["reason"])
        self.assertEqual(status["listening"], [f"udp:127.0.0.1:{free}"])


class BoundsTests(_ReceiverCase):
    """What bounds the work and the memory a sender causes."""

    def test_datagramsPerTurn(self) -> None:
        """After L{STEP} datagrams in one turn the port reads no more until the next turn,
        whatever their size (empty ones too)."""
        receiver = self.receiver()
        protocol = _Datagrams(receiver)
        port: Any = type("Port", (), {"maxThroughput": 256 * 1024})()
        protocol.transport = port
        for _ in range(STEP - 1):
            protocol.datagramReceived(b"", ("192.0.2.1", 514))
        self.assertEqual(port.maxThroughput, 256 * 1024)
        protocol.datagramReceived(b"", ("192.0.2.1", 514))
        self.assertEqual(port.maxThroughput, 0)
        self.clock.advance(0)
        self.assertEqual(port.maxThroughput, 256 * 1024)
        self.assertEqual(receiver.malformed["udp"], STEP)

    def test_streamHandledInSlices(self) -> None:
        """Many messages in one read are handled L{STEP} a turn, the connection paused until
        the last is handled."""
        receiver = self.receiver()
        protocol = _Stream(receiver)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"".join(b"<13>Dec  7 19:00:01 h t: %d\n" % number
                                       for number in range(2 * STEP + 1)))
        self.assertEqual(receiver.messages["tcp"], STEP)
        self.assertEqual(transport.producerState, "paused")
        self.clock.advance(0)
        self.clock.advance(0)
        self.assertEqual(receiver.messages["tcp"], 2 * STEP + 1)
        self.assertEqual(transport.producerState, "producing")
        receiver.spool.flush()
        self.assertEqual(self.spooled("h~t.log"),
                         [b"%d" % number for number in range(2 * STEP + 1)])

    def test_bareLineCountedOnce(self) -> None:
        """A line sent without syslog's framing or header (digits first, as an access line's
        address) is one message, and one malformed, not two."""
        receiver = self.receiver()
        protocol = _Stream(receiver)
        protocol.makeConnection(StringTransport())
        protocol.dataReceived(b'127.0.0.1 - - [07/Dec/2026:19:00:01 +0000] "GET / HTTP/1.1"\n')
        self.assertEqual((receiver.messages["tcp"], receiver.malformed["tcp"]), (1, 1))

    def test_unfinishedFrameAtClose(self) -> None:
        """At the connection's end an unfinished line is a message, and an unfinished
        octet-counted one a malformed message."""
        receiver = self.receiver()
        for data, counts in ((b"<13>Dec  7 19:00:01 h t: last", (1, 0)),
                             (b"100 <13>Dec  7 19:00:01 h t: cut short", (1, 1))):
            before = (receiver.messages["tcp"], receiver.malformed["tcp"])
            protocol = _Stream(receiver)
            protocol.makeConnection(StringTransport())
            protocol.dataReceived(data)
            protocol.connectionLost()
            self.assertEqual((receiver.messages["tcp"] - before[0],
                              receiver.malformed["tcp"] - before[1]), counts, data)
        self.assertEqual(receiver.connections, 0)

    def test_stopHandlesWhatWaits(self) -> None:
        """Stopping handles at once what paused connections hold and their unfinished last
        lines, writes it all to the spool, and closes the connections."""
        receiver = self.receiver()
        protocol = _Stream(receiver)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"".join(b"<13>Dec  7 19:00:01 h t: %d\n" % number
                                       for number in range(2 * STEP))
                              + b"<13>Dec  7 19:00:01 h t: unended")
        self.assertEqual(transport.producerState, "paused")
        receiver.stop()
        self.assertEqual(self.spooled("h~t.log"),
                         [b"%d" % number for number in range(2 * STEP)] + [b"unended"])
        self.assertTrue(transport.disconnecting)
        self.assertEqual((receiver.connections, receiver.streams), (0, set()))
        protocol.connectionLost()
        self.clock.advance(0)
        self.assertEqual(receiver.messages["tcp"], 2 * STEP + 1)

    def test_waitsForTheHistory(self) -> None:
        """While a spool file waits for the history, TCP senders wait (their connections
        paused, nothing they sent lost) and UDP lines for that file are dropped, counted; once
        it is free, the TCP senders go on."""
        receiver = self.receiver()
        receiver.spool.add("h", "t", b"first")
        receiver.spool._waiting.add(receiver.spool._files["h", "t"])  # as past FILE_MOST
        protocol = _Stream(receiver)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"<13>Dec  7 19:00:01 h t: by tcp\n")
        self.assertEqual((receiver.messages["tcp"], transport.producerState), (0, "paused"))
        datagrams = _Datagrams(receiver)
        datagrams.datagramReceived(b"<13>Dec  7 19:00:01 h t: by udp", ("192.0.2.1", 514))
        datagrams.datagramReceived(b"<13>Dec  7 19:00:01 o t: other", ("192.0.2.1", 514))
        self.assertEqual(receiver.spool.lost, 1)
        receiver.spool._waiting.clear()
        receiver.free()
        self.clock.advance(0)
        self.assertEqual((receiver.messages["tcp"], transport.producerState), (1, "producing"))
        receiver.spool.flush()
        self.assertEqual(self.spooled("h~t.log"), [b"first", b"by tcp"])
        self.assertEqual(self.spooled("o~t.log"), [b"other"])

    def test_connectionsPerAddressBounded(self) -> None:
        """Past L{syslogserver.MOST_PER_PEER} connections from one address, another is closed
        at once; one from another address is not."""
        self.patch(syslogserver, "MOST_PER_PEER", 2)
        receiver = self.receiver()
        for host, closed in (("192.0.2.1", False), ("192.0.2.1", False), ("192.0.2.1", True),
                             ("192.0.2.2", False)):
            transport = StringTransport(peerAddress=IPv4Address("TCP", host, 514))
            _Stream(receiver).makeConnection(transport)
            self.assertEqual(transport.disconnecting, closed, host)
        self.assertEqual((receiver.connections, receiver.refused), (3, 1))

    def test_connectionsBounded(self) -> None:
        """Past L{syslogserver.MOST_CONNECTIONS}, a connection is closed at once, and counted;
        what it sends is not read."""
        self.patch(syslogserver, "MOST_CONNECTIONS", 1)
        receiver = self.receiver()
        first, second = _Stream(receiver), _Stream(receiver)
        first.makeConnection(StringTransport())
        refused = StringTransport()
        second.makeConnection(refused)
        second.dataReceived(b"<13>h t: x\n")
        self.assertTrue(refused.disconnecting)
        self.assertEqual((receiver.connections, receiver.refused, receiver.messages["tcp"]),
                         (1, 1, 0))
        second.connectionLost()
        first.connectionLost()
        self.assertEqual(receiver.connections, 0)


class FloodTests(_ReceiverCase):
    """A flood of datagrams never holds the reactor for L{STALL}."""

    @defer.inlineCallbacks
    def test_udpFlood(self) -> Any:
        """200,000 datagrams (empty, hostile, and nginx's), sent as fast as a thread can: the
        reactor turns to other work within L{STALL} throughout."""
        port = free_port(socket.SOCK_DGRAM)
        receiver = self.receiver([("udp", "127.0.0.1", port)])
        probe = LagProbe()
        self.addCleanup(probe.stop)
        kinds = [b"", b"<" * 2000, b"<13>1 - - - - - [" + b'a="\\]' * 300, NGINX % 7]

        def flood() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
                for number in range(200_000):
                    try:
                        sender.sendto(kinds[number % 4], ("127.0.0.1", port))
                    except OSError:  # the receiver's buffer is full: the kernel drops it
                        pass

        probe.start()
        yield threads.deferToThread(flood)
        yield deferLater(reactor, 0.5, lambda: None)
        probe.stop()
        said = (f"{sum(receiver.messages.values())} received; the reactor was held for"
                f" {probe.held * 1000:.0f} ms")
        self.assertGreater(receiver.messages["udp"], 1000, said)
        self.assertLess(probe.held, STALL, said)


class SiteTests(SiteCase):
    """The served site with C{$WEBLOG_SYSLOG}: what senders send is on its pages."""

    @defer.inlineCallbacks
    def test_sentHitsShown(self) -> Any:
        """Lines sent over UDP and TCP become hits of their senders' sources, in the JSON
        beside the log's, and in the metrics; the JSON says what the receiver did."""
        udp, tcp = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
        setEnvironment(self, WEBLOG_HISTORY="off",
                       WEBLOG_SYSLOG=f"udp:127.0.0.1:{udp},tcp:127.0.0.1:{tcp}")
        self.writeLog(combined("/from-the-file"))
        root = self.serve()
        yield self.get("/weblog.rpy")
        records = root.registry.getComponent(IRecords)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for number in range(3):
                sender.sendto(NGINX % number, ("127.0.0.1", udp))

        def send() -> None:
            with socket.create_connection(("127.0.0.1", tcp)) as sender:
                line = b"<13>1 2026-12-07T19:00:01Z web2 app - - - " + (NGINX % 9).split(
                    b"nginx: ")[1]
                sender.sendall(b"%d %s" % (len(line), line))

        yield threads.deferToThread(send)
        yield until(self, lambda: records.lines >= 5)
        _, _, body = yield self.get("/weblog.rpy/json?status=all&referrer=any&limit=100")
        answer = json.loads(body)
        sources = sorted((hit["source"], hit["resource"]) for hit in answer["hits"])
        self.assertEqual(sources, [(self.log.path, "/from-the-file"),
                                   ("syslog:web1/nginx", "/0"), ("syslog:web1/nginx", "/1"),
                                   ("syslog:web1/nginx", "/2"), ("syslog:web2/app", "/9")])
        syslog = answer["log"]["syslog"]
        self.assertEqual(syslog["state"], "ok")
        self.assertEqual(syslog["messages"], {"udp": 3, "tcp": 1})
        self.assertEqual(syslog["listening"], [f"udp:127.0.0.1:{udp}", f"tcp:127.0.0.1:{tcp}"])
        _, _, page = yield self.get("/weblog.rpy")
        self.assertIn(f"Receiving syslog on <code>udp:127.0.0.1:{udp}".encode(), page)
        _, _, metrics = yield self.get("/metrics.rpy")
        self.assertIn(b'weblog_lines_total{source="syslog:web1/nginx"} 3.0', metrics)
        self.assertIn(b'weblog_syslog_messages_total{transport="udp"} 3.0', metrics)
        self.assertIn(b"weblog_syslog_behind 0.0", metrics)
