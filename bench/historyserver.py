"""A twistd with the history on, for the history's benchmarks: its JSON, historian and probes."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from context import Context
from servers import weblog_server
from tests.procfs import children, proc_status_kb
from tests.server import TwistdServer

KEEP = 10_000
"""WEBLOG_KEEP for every server here: the ring that a start reads back."""
STATUS_PATH = "/weblog.rpy/json?limit=1"
"""The cheap JSON whose C{log} and C{history} objects say how far the server is."""


def history_server(ctx: Context, log: Path, name: str, state: Path) -> TwistdServer:
    """A twistd (not started) following C{log}, its history on and kept in C{state}."""
    state.mkdir(parents=True, exist_ok=True)
    return weblog_server(ctx.work, log, name, {"WEBLOG_STATE": str(state), "WEBLOG_HISTORY": "on",
                                               "WEBLOG_KEEP": str(KEEP)})


def status(server: TwistdServer) -> dict[str, Any]:
    """The server's JSON now: its C{log} and C{history} objects (and the rest)."""
    found: dict[str, Any] = server.get_json(STATUS_PATH)
    return found


def wait_for(server: TwistdServer, done: Callable[[dict[str, Any]], bool], timeout: float,
             what: str, every: float = 0.1) -> dict[str, Any]:
    """Poll the JSON until C{done(json)}, for at most C{timeout} s; the JSON that said so."""
    end = time.monotonic() + timeout
    while True:
        found = status(server)
        if done(found):
            return found
        if time.monotonic() > end:
            raise RuntimeError(f"not {what} within {timeout:.0f} s: log {found['log']}, "
                               f"history {found['history']}")
        time.sleep(every)


def historians(server: TwistdServer) -> list[int]:
    """The process ids of the server's children: its historian (one, unless restarting)."""
    return children(server.pid)


def stop_all(server: TwistdServer, timeout: float = 30.0) -> None:
    """Stop the server, then wait (bounded) until its historian has left, closing the store."""
    pids = historians(server) if server.process and server.process.poll() is None else []
    server.stop()
    end = time.monotonic() + timeout
    for pid in pids:
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < end:
            time.sleep(0.05)


def kib(pid: int, key: str) -> int:
    """A process's VmRSS or VmHWM in KiB; 0 once it is gone."""
    try:
        return proc_status_kb(pid, key)
    except (OSError, KeyError):
        return 0


def historian_hwm_mb(server: TwistdServer) -> float:
    """The largest peak resident memory (VmHWM) of the server's historians, in MB."""
    return max((kib(pid, "VmHWM") for pid in historians(server)), default=0) / 1024


class RssSampler:
    """A thread that samples the resident memory of twistd and its historian every 0.2 s."""

    def __init__(self, server: TwistdServer, every: float = 0.2) -> None:
        """Sample C{server}'s processes from L{start} until L{stop}."""
        self.server = server
        self.every = every
        self.historian_kib = 0
        self.twistd_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        """Sample until stopped."""
        while not self._stop.is_set():
            self.twistd_kib = max(self.twistd_kib, kib(self.server.pid, "VmRSS"))
            for pid in historians(self.server):
                self.historian_kib = max(self.historian_kib, kib(pid, "VmRSS"))
            self.samples += 1
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        """Start sampling."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(10)


def timed_gets(server: TwistdServer, paths: Iterator[str], count: int, most: float,
               pause: float = 0.0) -> list[float]:
    """GET C{count} paths one after another (at most C{most} s in all); each one's ms."""
    took: list[float] = []
    end = time.monotonic() + most
    for path in paths:
        if len(took) >= count or (took and time.monotonic() > end):
            break
        start = time.perf_counter()
        code, body = server.get(path, timeout=60)
        took.append((time.perf_counter() - start) * 1000)
        if code != 200 or not body.rstrip().endswith((b"</html>", b"}")):
            raise RuntimeError(f"GET {path}: {code} {body[:200]!r}")
        if pause:
            time.sleep(pause)
    return took


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (C{share} from 0 to 1) of some values."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def cycling(template: str, first: int, count: int) -> Iterator[str]:
    """C{template} with C{{limit}} going round C{first}..C{first + count - 1}, endlessly."""
    while True:
        for limit in range(first, first + count):
            yield template.format(limit=limit)


def store_bytes(state: Path) -> int:
    """The history's files on disk: history.duckdb and its write-ahead log."""
    return sum(path.stat().st_size for path in (state / "history.duckdb",
                                                state / "history.duckdb.wal")
               if path.exists())
