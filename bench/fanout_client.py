"""Benchmark 4's client process: N event streams of /weblog.rpy/events, their latencies."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.server import raise_nofile

QUERY = "/weblog.rpy/events?status=all&referrer=any"
MARK = b'"resource":"/bench/'
"""What precedes a hit event's write time; `stats` events never match (their key is
"resources")."""
GRACE = 10.0
"""Seconds the clients wait, after the writer stops, for the events still on their way."""


class Stream:
    """One event stream's parser: finds each hit event's write time and notes its latency."""

    def __init__(self, recorder: Recorder) -> None:
        """A stream that reports to C{recorder}."""
        self.recorder = recorder
        self.buffer = bytearray()
        self.headed = False
        self.closing = False
        self.events = 0

    def feed(self, data: bytes, now: int) -> bool:
        """Take bytes received at C{now} (µs since the epoch); False if the answer was not 200."""
        self.recorder.reads += 1
        buffer = self.buffer
        buffer += data
        if not self.headed:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return True
            if bytes(buffer[:16]).split(b" ", 2)[1] != b"200":
                self.recorder.refused += 1
                self.closing = True
                return False
            self.headed = True
            self.recorder.ok += 1
            del buffer[:end + 4]
        cut = buffer.rfind(b"\n\n") + 2
        if cut < 2:
            return True
        self.count_events(buffer, cut, now)
        del buffer[:cut]
        return True

    def count_events(self, buffer: bytearray, cut: int, now: int) -> None:
        """
        Note the latency of every hit event in C{buffer[:cut]}.

        The lines of one batch share their write time and arrive next to each
        other, so each run of equal stamps is counted at C speed (C{count}),
        not event by event: reading a thousand streams must cost the client
        less than serving them costs the server.
        """
        histogram = self.recorder.histogram
        at = buffer.find(MARK, 0, cut)
        while at >= 0:
            start = at + len(MARK)
            stamp = bytes(buffer[start:buffer.find(b'"', start, start + 24)])
            key = MARK + stamp
            last = buffer.rfind(key, at, cut)
            times = buffer.count(key, at, last + len(key))
            self.events += times
            latency = now - int(stamp) // 1000
            histogram[latency] = histogram.get(latency, 0) + times
            at = buffer.find(MARK, last + len(key), cut)


class Recorder:
    """What the client process found over all its streams, and when it is done."""

    def __init__(self, count: int) -> None:
        """A recorder for C{count} streams."""
        self.count = count
        self.histogram: dict[int, int] = {}
        self.streams: list[Stream] = []
        self.ok = self.refused = self.failed = self.lost = self.reads = 0
        self.ready = False
        self.expected: int | None = None
        self.stop_by = 0.0
        self.started = time.monotonic()

    def stream(self) -> Stream:
        """A new stream's parser."""
        stream = Stream(self)
        self.streams.append(stream)
        return stream

    def command(self, line: bytes) -> None:
        """`STOP <lines written>` from the driver: wait for the rest, at most GRACE seconds."""
        words = line.split()
        if words and words[0] == b"STOP":
            self.expected = int(words[1])
            self.stop_by = time.monotonic() + GRACE

    def check(self) -> bool:
        """Say READY once every stream is open; return True once every event came or time's up."""
        settled = self.ok + self.refused + self.failed
        if not self.ready and (settled >= self.count or time.monotonic() - self.started > 60):
            self.ready = True
            print(f"READY {self.ok} {self.refused} {self.failed}", flush=True)
        if time.monotonic() - self.started > 600:  # a bound on the whole client, whatever happens
            return True
        if self.expected is None:
            return False
        live = [stream for stream in self.streams if stream.headed and not stream.closing]
        return (all(stream.events >= self.expected for stream in live)
                or time.monotonic() > self.stop_by)

    def result(self) -> dict[str, Any]:
        """The counts and the latency histogram (µs, in 10 µs bins), as JSON-ready data."""
        usage = os.times()
        bins: dict[int, int] = {}
        for latency, times in self.histogram.items():
            bins[latency // 10 * 10] = bins.get(latency // 10 * 10, 0) + times
        return {
            "connected": self.ok, "refused": self.refused, "failed": self.failed,
            "lost": self.lost, "events": sum(stream.events for stream in self.streams),
            "reads": self.reads, "histogram": sorted(bins.items()),
            "cpu_s": usage.user + usage.system,
        }


def request_bytes(port: int) -> bytes:
    """The event-stream request every client sends."""
    return (f"GET {QUERY} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Accept: text/event-stream\r\n\r\n").encode()


def client_main(port: int, count: int, out: Path) -> None:
    """Open C{count} streams on Twisted's reactor (a raw-TCP Protocol each); write JSON to out."""
    raise_nofile(4096)
    from twisted.internet import protocol, reactor, stdio
    from twisted.protocols.basic import LineReceiver
    from twisted.python.failure import Failure

    recorder = Recorder(count)
    request = request_bytes(port)

    class EventClient(protocol.Protocol):
        """One stream, fed as its data arrives."""

        def connectionMade(self) -> None:
            """Ask for the stream."""
            self.stream = recorder.stream()
            assert self.transport is not None
            self.transport.write(request)

        def dataReceived(self, data: bytes) -> None:
            """Parse what arrived; hang up on an answer other than 200."""
            if not self.stream.feed(data, time.time_ns() // 1000):
                assert self.transport is not None
                self.transport.loseConnection()

        def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
            """Count a stream that ended before the benchmark did."""
            if self.stream.headed and not self.stream.closing:
                recorder.lost += 1
            self.stream.closing = True

    class Factory(protocol.ClientFactory):
        """Counts connections that could not be made."""

        protocol = EventClient

        def clientConnectionFailed(self, connector: object, reason: object) -> None:
            """A connection attempt failed."""
            recorder.failed += 1

    factory = Factory()

    def ramp(left: int) -> None:
        """Connect in batches of 50 every 50 ms, so the listen backlog never overflows."""
        for _ in range(min(50, left)):
            reactor.connectTCP("127.0.0.1", port, factory, timeout=30)
        if left > 50:
            reactor.callLater(0.05, ramp, left - 50)

    def check() -> None:
        """Finish when the recorder says so."""
        if not recorder.check():
            reactor.callLater(0.05, check)
            return
        for stream in recorder.streams:
            stream.closing = True
        # The result can be large, and StandardIO made stdout non-blocking: write a file.
        out.write_text(json.dumps(recorder.result()))
        print("DONE", flush=True)
        reactor.stop()

    class Control(LineReceiver):
        """Reads the driver's commands."""

        delimiter = b"\n"

        def lineReceived(self, line: bytes) -> None:
            """Pass a command on."""
            recorder.command(line)

    stdio.StandardIO(Control())
    reactor.callWhenRunning(ramp, count)
    reactor.callWhenRunning(check)
    reactor.run()


def main() -> None:
    """`fanout_client.py PORT N OUT.json`: open N streams, write what they saw to OUT.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("clients", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    client_main(args.port, args.clients, args.out)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
