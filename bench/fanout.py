"""Benchmark 4, live fan-out: append-to-receive latency on /weblog.rpy/events for N clients."""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from children import PYTHON
from context import Context
from logs import append_at_rate, log_time
from report import Figure, Section, at_most
from servers import weblog_server
from tests.procfs import cpu_seconds
from tests.server import raise_nofile

RATE = 1000
CLIENTS = (1, 100, 1000)
QUERY = "/weblog.rpy/events?status=all&referrer=any"
MARK = b'"resource":"/bench/'
"""What precedes a hit event's write time; `stats` events never match (their key is
"resources")."""
PROCESSES = 2
SPLIT_AT = 500
"""From this many clients on, the streams are split over PROCESSES client processes, so that
the clients can use both cores: one Python process could not read 1000 streams fast enough."""
GRACE = 10.0
"""Seconds the clients wait, after the writer stops, for the events still on their way."""


def bench_lines(count: int) -> bytes:
    """C{count} combined lines whose resource carries the time they are written, in ns."""
    stamp = time.time_ns()
    line = (f'127.0.0.1 - - [{log_time()}] "GET /bench/{stamp} HTTP/1.1" 200 512 '
            f'"http://bench.example/" "weblog-bench-writer"\n').encode()
    return line * count


# ---------------------------------------------------------------- the client process


def weighted_percentile(ordered: list[tuple[int, int]], fraction: float) -> float:
    """The nearest-rank percentile of sorted (value, count) pairs."""
    total = sum(count for _, count in ordered)
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in ordered:
        seen += count
        if seen >= rank:
            return value
    return ordered[-1][0]


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


# ---------------------------------------------------------------- the driver


def read_line(proc: subprocess.Popen[bytes], timeout: float, errors: str) -> str:
    """One line of a child's stdout, waiting at most C{timeout} seconds."""
    try:
        return _read_line(proc, timeout)
    except RuntimeError as error:
        with open(errors, "rb") as stderr:
            tail = stderr.read()[-600:].decode("utf-8", "replace")
        raise RuntimeError(f"{error}: {tail}") from None


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """One line of a child's stdout, waiting at most C{timeout} seconds."""
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise RuntimeError(f"the client said nothing within {timeout:.0f} s")
        byte = os.read(proc.stdout.fileno(), 1)
        if not byte:
            raise RuntimeError(f"the client exited ({proc.wait()})")
        line += byte
    return line.decode().strip()


def one_run(ctx: Context, clients: int, seconds: float, index: int) -> dict[str, Any]:
    """A fresh server and client processes; write for C{seconds}; return the merged figures."""
    live = ctx.work / f"fanout-{clients}-{index}.log"
    live.write_bytes(b"")
    server = weblog_server(ctx.work, live, f"fanout-{clients}",
                           env={"WEBLOG_MAX_STREAMS": "2000"}, nofile=4096)
    processes = PROCESSES if clients >= SPLIT_AT else 1
    shares = [clients // processes + (1 if n < clients % processes else 0)
              for n in range(processes)]
    errors = ctx.work / f"fanout-client-{clients}.err"
    outs = [ctx.work / f"fanout-client-{clients}-{number}.json" for number in range(len(shares))]
    procs: list[subprocess.Popen[bytes]] = []
    with server:
        status, _ = server.get("/weblog.rpy")
        if status != 200:
            raise RuntimeError(f"/weblog.rpy answered {status}")
        try:
            with open(errors, "ab") as stderr:
                procs = [subprocess.Popen([PYTHON, __file__, "client", str(server.port),
                                           str(share), str(outs[number])],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=stderr)
                         for number, share in enumerate(shares)]
            for proc in procs:
                ready = read_line(proc, 90, str(errors)).split()
                if ready[0] != "READY":
                    raise RuntimeError(f"a client said {ready!r}")
            server_cpu = server.cpu_seconds()
            client_cpu = sum(cpu_seconds(proc.pid) for proc in procs)
            written, took = append_at_rate(live, RATE, seconds, bench_lines)
            server_cpu = server.cpu_seconds() - server_cpu
            client_cpu = sum(cpu_seconds(proc.pid) for proc in procs) - client_cpu
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(f"STOP {written}\n".encode())
                proc.stdin.flush()
            for proc in procs:
                done = read_line(proc, GRACE + 120, str(errors))
                if done != "DONE":
                    raise RuntimeError(f"a client said {done[:80]!r}")
            parts = [json.loads(out.read_text()) for out in outs]
            for proc in procs:
                proc.wait(timeout=30)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        rss = server.rss_kib() / 1024
    live.unlink(missing_ok=True)
    merged: dict[int, int] = {}
    for part in parts:
        for latency, times in part["histogram"]:
            merged[latency] = merged.get(latency, 0) + times
    ordered = sorted(merged.items())
    result: dict[str, Any] = {key: sum(part[key] for part in parts)
                              for key in ("connected", "refused", "failed", "lost", "events",
                                          "reads", "cpu_s")}
    result.update(
        p50_ms=weighted_percentile(ordered, 0.50) / 1000 if ordered else None,
        p99_ms=weighted_percentile(ordered, 0.99) / 1000 if ordered else None,
        max_ms=ordered[-1][0] / 1000 if ordered else None,
        written=written, seconds=took, server_cpu=server_cpu / took,
        client_cpu=client_cpu / took, rss=rss, expected=written * clients,
        processes=len(procs))
    return result


def run(ctx: Context) -> Section:
    """Run the fan-out at 1, 100 and 1000 clients; report latency and delivery."""
    section = Section("fanout", "4. Live fan-out")
    seconds = 3.0 if ctx.quick else 10.0
    runs = 1 if ctx.quick else ctx.runs
    section.headers = ["clients", "events received / expected", "p50 ms", "p99 ms", "max ms",
                       "server CPU", "client CPU", "server RSS MB"]
    found: dict[int, list[dict[str, Any]]] = {}
    for clients in CLIENTS:
        results: list[dict[str, Any]] = []
        while ctx.keep_going(len(results), runs, seconds + GRACE + 10):
            results.append(one_run(ctx, clients, seconds, len(results)))
        found[clients] = results

        def fig(key: str, scale: float = 1.0, unit: str = "",
                results: list[dict[str, Any]] = results) -> str:
            """One column's figure over the runs."""
            values = [r[key] * scale for r in results if r[key] is not None]
            return Figure(values).show(unit) if values else "none received"

        received = sum(r["events"] for r in results)
        expected = sum(r["expected"] for r in results)
        trouble = [f"{sum(r[key] for r in results)} {what}"
                   for key, what in (("refused", "refused"), ("failed", "failed to connect"),
                                     ("lost", "dropped by the server"))
                   if any(r[key] for r in results)]
        section.rows.append([
            f"{clients}" + (f" ({', '.join(trouble)})" if trouble else ""),
            f"{received:,} / {expected:,} ({100 * received / max(expected, 1):.1f}%)",
            fig("p50_ms"), fig("p99_ms"), fig("max_ms"), fig("server_cpu", 100, "%"),
            fig("client_cpu", 100, "%"), fig("rss")])
    top = found[CLIENTS[-1]]
    p99s = [r["p99_ms"] for r in top if r["p99_ms"] is not None]
    delivered = sum(r["events"] for r in top) / max(1, sum(r["expected"] for r in top))
    p99 = Figure(p99s).median if p99s else None
    section.verdicts.append(at_most(
        "fanout", "p99 append-to-receive < 250 ms at 1000 clients", p99, 250.0,
        (f"{p99:,.0f} ms" if p99 is not None else "no event received")
        + f", {100 * delivered:.1f}% of events delivered"))
    if p99 is not None and delivered < 0.99:
        section.verdicts[-1].met = False
        section.verdicts[-1].gap = (section.verdicts[-1].gap + "; " if section.verdicts[-1].gap
                                    else "") + f"only {100 * delivered:.1f}% delivered"
    top_cpu = Figure([r["client_cpu"] / max(r["server_cpu"], 1e-9) for r in top]).median
    section.notes += [
        f"Per run: a fresh server (WEBLOG_MAX_STREAMS=2000, open files 4096) following an empty "
        f"log; Twisted client processes (one, or {PROCESSES} from {SPLIT_AT} clients on, the "
        f"streams shared between them) open N raw-TCP streams of `{QUERY}` (50 every 50 ms) "
        f"and say when all are open; then the driver appends {RATE:,} lines/s in batches every "
        f"10 ms for {seconds:g} s, each line's resource `/bench/<time.time_ns()>` at writing. "
        f"Latency = receive time − that time, for every hit event every client received; "
        f"p50/p99/max are over all events of a run, figures across runs. After the writer "
        f"stops, clients wait up to {GRACE:g} s for the rest.",
        f"Server and client CPU: the share of one core used while the writer ran (the client "
        f"figure adds up its processes). At {CLIENTS[-1]} clients the clients needed "
        f"{top_cpu:.1f}x the server's CPU to read {RATE * CLIENTS[-1]:,} events/s; with "
        f"the server, the writer and others' work sharing two cores, latencies there are an "
        f"upper bound on weblog's own.",
    ]
    return section


def main() -> None:
    """Child mode: `client PORT N OUT.json`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["client"])
    parser.add_argument("port", type=int)
    parser.add_argument("clients", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    client_main(args.port, args.clients, args.out)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

