"""Soak run: mixed load and log rotations against a real twistd; lines written against seen."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from logs import log_time
from tests.procfs import open_fds, rss_kib
from tests.server import TwistdServer


def line(number: int) -> str:
    """One Apache combined line carrying its sequence number."""
    return (f'203.0.113.{number % 250} - - [{log_time()}] "GET /soak/{number} HTTP/1.1" 200 512 '
            f'"http://ref{number % 40}.example/page" "Mozilla/5.0 (soak)"\n')


class Writer(threading.Thread):
    """Appends lines at a steady rate and rotates the log now and then, in the three ways."""

    def __init__(self, log: Path, rate: int, rotate_every: float,
                 seen: Callable[[], int]) -> None:
        super().__init__(daemon=True)
        self.log = log
        self.rate = rate
        self.rotate_every = rotate_every
        self.seen = seen
        self.written = 0
        self.rotations: list[str] = []
        self.stopping = threading.Event()

    def write(self, handle: TextIO, count: int) -> None:
        """Append C{count} lines through C{handle}."""
        handle.write("".join(line(self.written + n) for n in range(count)))
        handle.flush()
        self.written += count

    def run(self) -> None:
        """Write until stopped, rotating every C{rotate_every} seconds."""
        handle = open(self.log, "a")  # noqa: SIM115
        kinds = ["rename", "copytruncate", "delete"]
        next_rotation = time.monotonic() + self.rotate_every
        tick = 0.05
        while not self.stopping.is_set():
            self.write(handle, max(1, int(self.rate * tick)))
            time.sleep(tick)
            if time.monotonic() < next_rotation:
                continue
            kind = kinds[len(self.rotations) % 3]
            self.rotations.append(kind)
            next_rotation = time.monotonic() + self.rotate_every
            if kind == "rename":
                os.replace(self.log, f"{self.log}.1")
                self.write(handle, 50)  # the old writer goes on appending to the renamed file
                handle.close()
                handle = open(self.log, "a")  # noqa: SIM115
            elif kind == "copytruncate":
                # Like logrotate's copytruncate, but waiting until weblog has read everything:
                # lines written between the copy and the truncation are lost to any reader.
                wait_until(lambda: self.seen() >= self.written, 30)
                shutil.copyfile(self.log, f"{self.log}.1")
                os.truncate(self.log, 0)
            else:
                wait_until(lambda: self.seen() >= self.written, 30)
                handle.close()
                os.remove(self.log)
                time.sleep(1.5)  # weblog shows the log as missing meanwhile
                handle = open(self.log, "a")  # noqa: SIM115
        handle.close()


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll C{condition} until true or C{seconds} pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def stream_clients(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    """Keep about 50 event streams open, each dropped abruptly after a few seconds."""
    open_streams: list[tuple[socket.socket, float]] = []
    while not stop.is_set():
        while len(open_streams) < 50:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=5)
                client.sendall(b"GET /weblog.rpy/events?status=all HTTP/1.1\r\nHost: soak\r\n\r\n")
                client.setblocking(False)
                open_streams.append((client, time.monotonic() + random.uniform(1, 8)))
                counts["opened"] += 1
            except OSError:
                counts["refused"] += 1
                break
        for client, until in list(open_streams):
            try:
                counts["bytes"] += len(client.recv(1 << 16))
            except (BlockingIOError, OSError):
                pass
            if time.monotonic() > until:
                client.close()
                open_streams.remove((client, until))
        time.sleep(0.05)
    for client, _ in open_streams:
        client.close()


def main() -> int:
    """Run the soak and print what it saw; exit 1 if any line was lost or counted twice."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="how long (default 600)")
    parser.add_argument("--rate", type=int, default=2000, help="lines per second (default 2000)")
    parser.add_argument("--rotate-every", type=float, default=30.0,
                        help="seconds between rotations (default 30)")
    arguments = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="weblog-soak-"))
    log = base / "var" / "soak.log"
    server = TwistdServer(base, {"WEBLOG_LOG": str(log)})
    log.touch()
    try:
        try:
            server.start(timeout=20)
        except RuntimeError as error:
            print(f"soak: twistd did not start: {error}", file=sys.stderr)
            return 1
        port = server.port
        server.get_json("/weblog.rpy/json", timeout=10)

        def seen() -> int:
            return int(server.get_json("/weblog.rpy/json?limit=1", timeout=10)["log"]["lines"])

        writer = Writer(log, arguments.rate, arguments.rotate_every, seen)
        stop = threading.Event()
        counts = {"opened": 0, "refused": 0, "bytes": 0}
        streams = threading.Thread(target=stream_clients, args=(port, stop, counts), daemon=True)
        wrk = shutil.which("wrk")
        load = subprocess.Popen(
            [wrk, "-t1", "-c10", f"-d{int(arguments.seconds)}s", "--latency",
             f"http://127.0.0.1:{port}/weblog.rpy"],
            stdout=subprocess.PIPE, text=True,
        ) if wrk else None
        started = time.monotonic()
        writer.start()
        streams.start()
        samples = []
        while time.monotonic() - started < arguments.seconds:
            time.sleep(5)
            state = server.get_json("/weblog.rpy/json?limit=1", timeout=10)["log"]
            samples.append((round(time.monotonic() - started), rss_kib(server.pid),
                            open_fds(server.pid), state))
            print(f"soak: {samples[-1][0]:>4} s  rss {samples[-1][1] // 1024} MiB  "
                  f"fds {samples[-1][2]}  written {writer.written}  seen {state['lines']}  "
                  f"state {state['state']}", flush=True)
        writer.stopping.set()
        writer.join()
        stop.set()
        streams.join()
        caught_up = wait_until(lambda: seen() >= writer.written, 60)
        final = server.get_json("/weblog.rpy/json?limit=1", timeout=10)["log"]
        wrk_output = load.communicate(timeout=60)[0] if load else "wrk not installed"
    finally:
        server.stop(grace=30)
        shutil.rmtree(base, ignore_errors=True)
    lines = final["lines"]
    print()
    print(f"duration            {arguments.seconds:.0f} s at {arguments.rate} lines/s")
    print(f"rotations           {len(writer.rotations)} ({', '.join(writer.rotations)})")
    print(f"lines written       {writer.written}")
    print(f"lines seen          {lines} (malformed {final['malformed']}, "
          f"rotations seen {final['rotations']}, truncations {final['truncations']})")
    print(f"caught up           {caught_up}")
    print(f"event streams       {counts['opened']} opened, {counts['refused']} refused")
    print(f"server RSS          max {max(s[1] for s in samples) // 1024} MiB")
    print(f"server fds          max {max(s[2] for s in samples)}, last {samples[-1][2]}")
    for text in wrk_output.splitlines():
        if "Requests/sec" in text or text.strip().startswith(("50%", "99%")):
            print(f"wrk /weblog.rpy     {text.strip()}")
    ok = lines == writer.written and final["malformed"] == 0
    verdict = "every line seen exactly once" if ok else "LINES LOST OR DOUBLED"
    print(f"RESULT              {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
