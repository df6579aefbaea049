"""Benchmark 13, syslog intake: access-log lines sent over TCP (RFC 3164 in RFC 6587's
octet-counted frames) to a running server with its store, against rsyslog writing the same
stream to a file."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from children import PYTHON
from context import Context
from historyserver import KEEP, RssSampler, kib, status, stop_all, wait_for
from ingest import goaccess_once
from report import Figure, Section, Verdict
from servers import weblog_server
from tests.server import TwistdServer, free_port
from tools import rsyslogd_path
from weblog.wake import wake

POLL = 0.05
"""Seconds between two reads of the JSON's C{log.lines} while the server reads."""
FILE_POLL = 0.01
"""Seconds between two reads of rsyslog's file while it grows (reading on from where the last
read ended costs little; rsyslog takes a fraction of a second for the quick run's lines)."""
HEADER = b"<190>Dec  7 19:02:34 bench web1: "
"""What precedes each line in its message: RFC 3164's PRI (local7.info), timestamp, HOSTNAME
and TAG, as rsyslog's C{omfwd} sends them."""
SOURCE = "syslog:bench/web1"
"""The source weblog gives the lines, from L{HEADER}'s host and tag."""
RSYSLOG_CONFIG = """\
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
template(name="weblog_file" type="string" string="{out}/%HOSTNAME%.log")
template(name="weblog_line" type="string" string="%msg:2:$%\\n")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="weblog")
ruleset(name="weblog") {{
    action(type="omfile" dynaFile="weblog_file" template="weblog_line")
}}
"""
"""rsyslog as the collector the README offers instead of weblog's listener: C{imtcp} (which
reads octet-counted frames unasked), and each line written to one file per sending host."""


def frames(log: Path, out: Path) -> int:
    """Write each line of C{log} as an octet-counted RFC 3164 frame to C{out}; its size."""
    with open(log, "rb") as source, open(out, "wb") as target:
        chunk: list[bytes] = []
        for line in source:
            message = HEADER + line.rstrip(b"\n")
            chunk.append(b"%d %s" % (len(message), message))
            if len(chunk) >= 100_000:
                target.write(b"".join(chunk))
                chunk = []
        target.write(b"".join(chunk))
    return out.stat().st_size


def sender_child(port: int, path: Path) -> dict[str, Any]:
    """In a fresh process: read the frames, connect, say ready; at `go`, send them all and
    close; the seconds sendall took (until the last byte was in the kernel's buffer)."""
    data = path.read_bytes()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit("no go")
        start = time.monotonic()
        connection.sendall(data)
        seconds = time.monotonic() - start
    return {"bytes": len(data), "sendall": seconds}


class Sender:
    """The sender process (L{sender_child}), connected and ready to send on L{go}."""

    def __init__(self, port: int, path: Path) -> None:
        """Start it; it reads the frames and connects to C{port} before saying ready."""
        self.process = subprocess.Popen(
            [PYTHON, __file__, "send", str(port), str(path)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        said = stdout.readline().strip()
        if said != "ready":
            self.process.kill()
            raise RuntimeError(f"the sender did not get ready: {said!r}")

    def go(self) -> float:
        """Tell it to send; the monotonic time just before."""
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        start = time.monotonic()
        stdin.write("go\n")
        stdin.flush()
        return start

    def result(self, timeout: float = 600.0) -> dict[str, Any]:
        """What it printed, once it has sent everything and closed."""
        stdout, _ = self.process.communicate(timeout=timeout)
        if self.process.returncode != 0:
            raise RuntimeError(f"the sender exited with {self.process.returncode}")
        return dict(json.loads(stdout.strip().splitlines()[-1]))

    def stop(self) -> None:
        """Kill it if it still runs (a round that failed midway)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def sender_alone(path: Path, size: int) -> float:
    """The sender into a socket that reads and discards: seconds until all C{size} bytes came."""
    listener = socket.create_server(("127.0.0.1", 0))
    received = [0]

    def discard() -> None:
        connection, _ = listener.accept()
        buffer = bytearray(1 << 20)
        with connection:
            while count := connection.recv_into(buffer):
                received[0] += count

    reader = threading.Thread(target=discard, daemon=True)
    reader.start()
    try:
        sender = Sender(listener.getsockname()[1], path)
        start = sender.go()
        sender.result()
        reader.join(120)
        seconds = time.monotonic() - start
    finally:
        listener.close()
    if received[0] != size:
        raise RuntimeError(f"the discarding socket read {received[0]:,} bytes of {size:,}")
    return seconds


def weblog_round(ctx: Context, name: str, path: Path, count: int) -> dict[str, Any]:
    """A fresh twistd, history on, listening for syslog; the frames sent; time the intake."""
    state = ctx.work / f"{name}-state"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    log = ctx.work / f"{name}-empty.log"
    log.write_bytes(b"")
    port = free_port()
    listen = f"tcp:127.0.0.1:{port}"
    server = weblog_server(ctx.work, log, name, {
        "WEBLOG_STATE": str(state), "WEBLOG_HISTORY": "on", "WEBLOG_KEEP": str(KEEP),
        "WEBLOG_SYSLOG": f"udp:127.0.0.1:{port},{listen}"})
    twistd_log = Path(server.base.child("twistd.log").path)
    said_before = twistd_log.stat().st_size if twistd_log.exists() else 0
    server.start()
    sender: Sender | None = None
    try:
        problem = wake(server.url(""))
        if problem:
            raise RuntimeError(f"wake: {problem}")
        ready = wait_for(server, lambda f: f["history"]["state"] == "ok"
                         and listen in f["log"].get("syslog", {}).get("listening", []),
                         120, "listening")
        lines, stored = ready["log"]["lines"], ready["history"]["stored"]
        sender = Sender(port, path)
        with RssSampler(server) as rss:
            start = sender.go()
            read, slowest = read_all(server, lines + count, start + 600)
            seconds = time.monotonic() - start
            expected = count - (read["log"]["malformed"] - ready["log"]["malformed"])
            done, last_stored = wait_stored(server, stored + expected)
            stored_after = last_stored - start
        sent = sender.result()
        time.sleep(2.5)  # the historian's status reaches the server once a second: any
        final = status(server)  # line counted or stored twice would show by now
    finally:
        if sender is not None:
            sender.stop()
        stop_all(server)
        shutil.rmtree(state, ignore_errors=True)
        log.unlink(missing_ok=True)
    syslog, before = final["log"]["syslog"], ready["log"]["syslog"]
    return {
        "lines_per_s": count / seconds, "seconds": seconds, "sendall": sent["sendall"],
        "stored_per_s": (final["history"]["stored"] - stored) / stored_after,
        "stored_after": stored_after, "all_stored": done,
        "read": final["log"]["lines"] - lines, "stored": final["history"]["stored"] - stored,
        "expected": expected, "malformed": count - expected,
        "messages": syslog["messages"]["tcp"] - before["messages"]["tcp"],
        "syslog": {key: syslog[key] for key in ("malformed", "cut", "lost", "behind",
                                                "overflowed", "refused", "senders")},
        "slowest_ms": slowest * 1000,
        "history": {key: final["history"].get(key) for key in ("state", "reason", "bytes_done",
                                                               "bytes_total")},
        "twistd_mb": rss.twistd_kib / 1024, "historian_mb": rss.historian_kib / 1024,
        "said": complaints(twistd_log, said_before),
    }


def read_all(server: TwistdServer, lines: int, end: float) -> tuple[dict[str, Any], float]:
    """Read the JSON every L{POLL} s until its C{log.lines} reaches C{lines}: the JSON that said
    so, and the seconds the slowest read took (the server answers between its slices)."""
    slowest = 0.0
    while True:
        asked = time.monotonic()
        found = status(server)
        slowest = max(slowest, time.monotonic() - asked)
        if found["log"]["lines"] >= lines:
            return found, slowest
        if time.monotonic() > end:
            raise RuntimeError(f"not read in time: log {found['log']}")
        time.sleep(POLL)


def wait_stored(server: TwistdServer, wanted: int,
                timeout: float = 600.0) -> tuple[bool, float]:
    """Wait until the history has stored C{wanted} hits (True), or has read all it follows and
    stored no more for 10 s (False: hits lost to it); and the monotonic time it last stored
    more."""
    end = time.monotonic() + timeout
    last, still = -1, time.monotonic()
    while True:
        found = status(server)["history"]
        if found["stored"] >= wanted:
            return True, time.monotonic()
        if found["stored"] != last:
            last, still = found["stored"], time.monotonic()
        elif found.get("bytes_done", 0) >= found.get("bytes_total", 1) \
                and time.monotonic() - still > 10:
            return False, still
        if time.monotonic() > end:
            raise RuntimeError(f"not stored within {timeout:.0f} s: history {found}")
        time.sleep(0.2)


def complaints(path: Path, offset: int) -> list[str]:
    """The lines twistd printed past C{offset} that report a problem."""
    try:
        with open(path, "rb") as said:
            said.seek(offset)
            text = said.read().decode("utf-8", "replace")
    except OSError:
        return []
    wanted = re.compile(r"Traceback|Unhandled|rror|syslog: |warn|lost|waits", re.IGNORECASE)
    return [line.strip() for line in text.splitlines() if wanted.search(line)]


def rsyslog_round(ctx: Context, rsyslogd: str, path: Path, log: Path,
                  count: int) -> dict[str, Any]:
    """rsyslogd with C{imtcp} and C{omfile}, its own config, pid file and work directory; the
    frames sent; time until its file holds C{count} lines."""
    base = ctx.work / "rsyslog"
    shutil.rmtree(base, ignore_errors=True)
    (base / "work").mkdir(parents=True)
    (base / "out").mkdir()
    port = free_port()
    config = base / "rsyslog.conf"
    config.write_text(RSYSLOG_CONFIG.format(work=base / "work", out=base / "out", port=port))
    checked = subprocess.run([rsyslogd, "-N1", "-f", str(config)], capture_output=True,
                             text=True, timeout=30, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"rsyslogd -N1: {(checked.stdout + checked.stderr)[-300:]}")
    with open(base / "rsyslogd.log", "wb") as said:
        process = subprocess.Popen([rsyslogd, "-n", "-f", str(config), "-i",
                                    str(base / "rsyslogd.pid")],
                                   stdin=subprocess.DEVNULL, stdout=said,
                                   stderr=subprocess.STDOUT)
    out = base / "out" / "bench.log"
    sender: Sender | None = None
    try:
        listening(port, process, base / "rsyslogd.log")
        sender = Sender(port, path)
        start = sender.go()
        seen, offset = 0, 0
        end = start + 600
        while seen < count:
            if time.monotonic() > end:
                raise RuntimeError(f"rsyslog wrote {seen:,} lines of {count:,} within 600 s")
            if process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited with {process.returncode}")
            if out.exists():
                with open(out, "rb") as written:
                    written.seek(offset)
                    data = written.read()
                offset += len(data)
                seen += data.count(b"\n")
            if seen < count:
                time.sleep(FILE_POLL)
        seconds = time.monotonic() - start
        sender.result()
        peak = kib(process.pid, "VmHWM") / 1024
    finally:
        if sender is not None:
            sender.stop()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
    file = compared(out, log)
    shutil.rmtree(base, ignore_errors=True)
    return {"lines_per_s": count / seconds, "seconds": seconds, "lines": seen,
            "file": file, "rss_mb": peak}


def listening(port: int, process: subprocess.Popen[bytes], said: Path) -> None:
    """Wait until rsyslogd accepts connections on C{port}."""
    end = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"rsyslogd exited with {process.returncode}: "
                               f"{said.read_text(errors='replace')[-300:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError("rsyslogd did not listen within 30 s") from None
            time.sleep(0.05)


def compared(written: Path, sent: Path) -> str:
    """How the file rsyslog wrote compares with the log sent: `same` byte for byte, `reordered`
    (the same lines, as many times each, in another order), else `different`."""
    if written.stat().st_size == sent.stat().st_size:
        with open(written, "rb") as first, open(sent, "rb") as second:
            while True:
                a, b = first.read(1 << 20), second.read(1 << 20)
                if a != b:
                    break
                if not a:
                    return "same"
    with open(written, "rb") as first, open(sent, "rb") as second:
        return "reordered" if Counter(first) == Counter(second) else "different"


def run(ctx: Context) -> Section:
    """Rounds of the same octet-counted stream into weblog, rsyslog, and GoAccess on its lines."""
    assert ctx.logs is not None
    section = Section("syslog", "13. Syslog intake")
    count = 100_000 if ctx.quick else 1_000_000
    big = ctx.logs.by_lines(count)
    path = ctx.work / f"syslog-frames-{count}.bin"
    size = frames(big, path)
    rsyslogd = rsyslogd_path() if ctx.tools.get("rsyslog") else None
    has_goaccess = bool(ctx.tools.get("goaccess"))
    out = ctx.work / "goaccess-syslog.json"
    rounds: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    goaccess: list[float] = []
    alone: list[float] = []
    while ctx.keep_going(len(rounds), ctx.runs, 90 if ctx.quick else 240):
        # each round runs the sender alone, weblog, rsyslog and GoAccess back to back, so that
        # the machine's drift hits them alike
        alone.append(count / sender_alone(path, size))
        rounds.append(weblog_round(ctx, f"syslog-{len(rounds)}", path, count))
        if rsyslogd:
            peers.append(rsyslog_round(ctx, rsyslogd, path, big, count))
        if has_goaccess:
            goaccess.append(count / goaccess_once(big, out)[0])
    path.unlink(missing_ok=True)
    weblog = [r["lines_per_s"] for r in rounds]
    rsyslog = [p["lines_per_s"] for p in peers]

    def ratio(others: list[float]) -> Figure | None:
        return Figure([x / y for x, y in zip(weblog, others, strict=True)]) if others else None

    to_rsyslog, to_goaccess = ratio(rsyslog), ratio(goaccess)
    short = sum(not r["all_stored"] for r in rounds)
    section.headers = ["path", "lines/s", "weblog live ÷ path", "peak RSS"]
    section.rows.append(["weblog server, history on: received and counted live (log.lines)",
                         Figure(weblog).show(), "1",
                         Figure([r["twistd_mb"] for r in rounds]).show(" MB")])
    section.rows.append(["weblog's historian, storing them (history.stored)",
                         Figure([r["stored_per_s"] for r in rounds]).show()
                         + (f" ({short} rounds short)" if short else ""), "—",
                         Figure([r["historian_mb"] for r in rounds]).show(" MB")])
    section.rows.append(["rsyslog: imtcp → omfile, one file per host",
                         Figure(rsyslog).show() if rsyslog else "not measured",
                         to_rsyslog.show("x", 2) if to_rsyslog else "—",
                         Figure([p["rss_mb"] for p in peers]).show(" MB") if peers else "—"])
    section.rows.append(["GoAccess on the same lines, from a file",
                         Figure(goaccess).show() if goaccess else "not measured",
                         to_goaccess.show("x", 2) if to_goaccess else "—", "—"])
    section.rows.append(["the sender alone, into a socket that discards", Figure(alone).show(),
                         "—", "—"])
    section.verdicts.append(exactly_once(rounds, count))
    last = rounds[-1]
    section.notes += [
        f"Log: {ctx.logs.stories[f'lines-{count}']}; each line sent as an RFC 3164 message, "
        f"`{HEADER.decode()}LINE`, in an RFC 6587 octet-counted frame (`LEN MESSAGE`), as "
        f"rsyslog's `omfwd` sends with `TCP_Framing=\"octet-counted\"`: {size / 1e6:,.1f} MB.",
        f"The sender: a separate Python process that reads the frames into one bytes object "
        f"and connects, then, told to go, sends them with one `sendall` over one TCP "
        f"connection to 127.0.0.1 and closes; it is as fast as the receiver reads. Alone, into "
        f"a socket whose reader discards, it sends the {count:,} frames at the last row's rate, "
        f"so it is not what limits the others.",
        f"weblog: each round starts a fresh twistd (history on, WEBLOG_KEEP={KEEP}, an empty "
        f"WEBLOG_STATE, WEBLOG_LOG an empty file, `WEBLOG_SYSLOG=udp:127.0.0.1:PORT,"
        f"tcp:127.0.0.1:PORT`), wakes it with `weblog.wake.wake` and waits until the JSON's "
        f"`log.syslog.listening` has the TCP port and `history.state` is ok; then the sender "
        f"goes, and /weblog.rpy/json?limit=1 is read every {POLL * 1000:.0f} ms until "
        f"`log.lines` has grown by {count:,}: lines/s = {count:,} ÷ the time from the go. The "
        f"historian's row is the hits it stored ÷ the time until `history.stored` had grown by "
        f"the lines less the malformed ones Records counted ({last['malformed']:,}), or, in a "
        f"round where it fell short, until it last grew, once it had "
        f"read all it follows and stored nothing more for 10 s; the server hears the "
        f"historian's status once a second, so it is a low bound. Peak RSS: "
        f"the largest VmRSS of twistd and of its historian, sampled every 0.2 s from the go "
        f"until all was stored. The slowest JSON read while the lines came took "
        f"{Figure([r['slowest_ms'] for r in rounds]).show(' ms')}. The sender's `sendall` "
        f"returned after "
        f"{Figure([r['sendall'] for r in rounds]).show(' s')} (TCP's flow control: the kernel "
        f"buffers little, so that is about when the server had read the bytes).",
        f"rsyslog ({ctx.tools.get('rsyslog') or 'not installed'}): `rsyslogd -n` with its own "
        f"config, pid file and work directory (no imuxsock, no imklog): `imtcp` on 127.0.0.1, "
        f"each message's MSG (less the space after the tag) written with `omfile` to a file "
        f"per HOSTNAME (`dynaFile`), the one-collector path the README offers; lines/s = "
        f"{count:,} ÷ the time from the go until the file holds {count:,} lines (read every "
        f"{FILE_POLL * 1000:.0f} ms). "
        + (f"Its file against the log sent, by round: {', '.join(p['file'] for p in peers)} "
           f"(`same`: byte for byte; `reordered`: the same lines, each as many times, in "
           f"another order: under load rsyslog's main queue runs a second worker thread, "
           f"and the two write their batches side by side; "
           f"`different`: lines lost, added or changed). Peak RSS is its VmHWM."
           if peers else "Not measured: rsyslogd is not installed."),
        "GoAccess: `goaccess FILE --log-format=COMBINED -o out.json` on the same lines, from a "
        "file (no syslog), for a familiar scale." if has_goaccess
        else "GoAccess: not measured (goaccess is not installed).",
        "Each round runs the sender alone, weblog, rsyslog and GoAccess back to back; a ratio "
        "is the median of the rounds' ratios. No target is set for this intake: the ratio to "
        "rsyslog is a figure, not a verdict.",
        f"The receiver's counts after the last round: {last['messages']:,} TCP messages, "
        f"{json.dumps(last['syslog'])}; history {json.dumps(last['history'])}.",
    ]
    said = [line for r in rounds for line in r["said"]]
    section.notes.append(
        f"twistd.log: {len(said)} lines reporting a problem in {len(rounds)} rounds"
        + (f", the first: `{said[0][:300]}`" if said else "") + ".")
    return section


def exactly_once(rounds: list[dict[str, Any]], count: int) -> Verdict:
    """Whether, in every round, each line sent was received, counted and stored exactly once."""
    wrong = [(n, r["read"], r["messages"], r["stored"], r["expected"], r["syslog"]["lost"])
             for n, r in enumerate(rounds)
             if (r["read"], r["messages"], r["stored"]) != (count, count, r["expected"])]
    last = rounds[-1]
    measured = (f"last round: {last['read']:,} lines live and {last['messages']:,} messages of "
                f"{count:,} sent, {last['stored']:,} stored of {last['expected']:,} hits")
    if wrong:
        measured += f"; wrong in {len(wrong)} of {len(rounds)} rounds (round, live, messages, " \
                    f"stored, hits, lines lost by the spool): {wrong}"
    else:
        measured += f"; every round of {len(rounds)}"
    return Verdict("syslog", "every line sent received once (log.lines, log.syslog.messages) "
                   "and stored once (history.stored)", measured, not wrong,
                   "" if not wrong else "lines lost or counted twice")


def main() -> None:
    """The child mode, run in a fresh process: `send PORT FRAMES`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["send"])
    parser.add_argument("port", type=int)
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    print(json.dumps(sender_child(args.port, args.path)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
