"""Benchmark 4, live fan-out: append-to-receive latency on /weblog.rpy/events for N clients."""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from children import PYTHON
from context import Context
from fanout_client import GRACE, QUERY
from logs import append_at_rate, log_time
from report import Figure, Section, at_most
from servers import weblog_server
from tests.procfs import cpu_seconds

CLIENT = str(Path(__file__).with_name("fanout_client.py"))
"""The client process: `fanout_client.py PORT N OUT.json`."""
RATE = 1000
CLIENTS = (1, 100, 1000)
PROCESSES = 2
SPLIT_AT = 500
"""From this many clients on, the streams are split over PROCESSES client processes, so that
the clients can use both cores: one Python process could not read 1000 streams fast enough."""


def bench_lines(count: int) -> bytes:
    """C{count} combined lines whose resource carries the time they are written, in ns."""
    stamp = time.time_ns()
    line = (f'127.0.0.1 - - [{log_time()}] "GET /bench/{stamp} HTTP/1.1" 200 512 '
            f'"http://bench.example/" "weblog-bench-writer"\n').encode()
    return line * count


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
                procs = [subprocess.Popen([PYTHON, CLIENT, str(server.port), str(share),
                                           str(outs[number])],
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


