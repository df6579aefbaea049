"""Shared helpers for weblog's benchmarks: logs, servers, wrk, statistics and the report."""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
PYTHON = str(BIN / "python") if (BIN / "python").exists() else sys.executable
TWISTD = str(BIN / "twistd")
BENCH = Path(__file__).resolve().parent
ELASTIC = REPO.parent / "shared" / "data" / "elastic-apache" / "access.log"
ELASTIC_LABEL = "../shared/data/elastic-apache/access.log"

PLAIN_RPY = (
    "from twisted.web import resource\n"
    "page = b'<html><head><title>Dynamic Page</title></head><body><p>Dynamic Page served by "
    "Twisted Matrix</p></body></html>'\n"
    "class Resource(resource.Resource):\n"
    "    def render(self, request):\n"
    "        return page\n"
    "resource = Resource()\n"
)
"""The article's trivial dynamic page, added as plain.rpy to the served copy of www/."""


# ---------------------------------------------------------------- context and budget


@dataclass
class Context:
    """What every benchmark needs: mode, repetitions, durations, work dir, logs, tools, budget."""

    quick: bool
    work: Path
    deadline: float
    runs: int = 5
    wrk_seconds: int = 10
    tools: dict[str, str | None] = field(default_factory=dict)
    logs: LogCache | None = None

    def remaining(self) -> float:
        """Seconds left in the whole run's time budget."""
        return self.deadline - time.monotonic()

    def keep_going(self, done: int, wanted: int, each: float) -> bool:
        """Whether to do another repetition: fewer than wanted, and time left for one more."""
        if done >= wanted:
            return False
        if done == 0:
            return True
        return self.remaining() > each * 1.5 + 60


# ---------------------------------------------------------------- statistics


@dataclass
class Figure:
    """A measured quantity over several runs: median, min and max."""

    values: list[float]

    @property
    def median(self) -> float:
        """The median of the runs."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The smallest run."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The largest run."""
        return max(self.values)

    @property
    def n(self) -> int:
        """How many runs."""
        return len(self.values)

    def show(self, unit: str = "", digits: int | None = None, scale: float = 1.0) -> str:
        """'median (min–max) unit', with the number of runs when it is not five."""
        values = [value * scale for value in self.values]
        med, low, high = statistics.median(values), min(values), max(values)
        text = f"{num(med, digits)}{unit}"
        if len(values) > 1:
            text += f" ({num(low, digits)}–{num(high, digits)})"
        if len(values) != 5:
            text += f" n={len(values)}"
        return text


def num(value: float, digits: int | None = None) -> str:
    """A number with sensible precision: thousands separated, three significant digits."""
    if digits is not None:
        return f"{value:,.{digits}f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (fraction 0.5 for p50)."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


# ---------------------------------------------------------------- verdicts and sections


@dataclass
class Verdict:
    """One target of the issue: what was asked, what was measured, whether it is met."""

    benchmark: str
    target: str
    measured: str
    met: bool | None
    gap: str = ""

    def word(self) -> str:
        """MET, NOT MET (with the gap) or not measured."""
        if self.met is None:
            return f"not measured{': ' + self.gap if self.gap else ''}"
        if self.met:
            return "MET"
        return f"NOT MET ({self.gap})" if self.gap else "NOT MET"


def at_least(benchmark: str, target: str, value: float | None, wanted: float,
             measured: str) -> Verdict:
    """A target that the value must reach: the gap says how many times more it needs."""
    if value is None:
        return Verdict(benchmark, target, measured, None)
    if value >= wanted:
        return Verdict(benchmark, target, measured, True)
    gap = f"needs {times(wanted / value)} more" if value > 0 else "nothing measured"
    return Verdict(benchmark, target, measured, False, gap)


def at_most(benchmark: str, target: str, value: float | None, limit: float,
            measured: str) -> Verdict:
    """A target that the value must stay under: the gap says how many times over it is."""
    if value is None:
        return Verdict(benchmark, target, measured, None)
    if value <= limit:
        return Verdict(benchmark, target, measured, True)
    return Verdict(benchmark, target, measured, False, f"{times(value / limit)} over")


def times(ratio: float) -> str:
    """A ratio as '1.34x', with a third decimal when two would show 1.00x."""
    return f"{ratio:.3f}x" if ratio < 1.01 else f"{ratio:.2f}x"


@dataclass
class Section:
    """One benchmark's results: a table, notes, and its verdicts."""

    name: str
    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    seconds: float = 0.0

    def markdown(self) -> str:
        """The section as Markdown: heading, table, targets, notes."""
        out = [f"## {self.title}", ""]
        if self.rows:
            out += table(self.headers, self.rows) + [""]
        if self.verdicts:
            out += table(["target", "measured", "verdict"],
                         [[v.target, v.measured, v.word()] for v in self.verdicts]) + [""]
        for note in self.notes:
            out.append(f"- {note}")
        if self.notes:
            out.append("")
        out.append(f"_Took {self.seconds:.0f} s._")
        out.append("")
        return "\n".join(out)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table's lines."""
    def cell(text: str) -> str:
        """A cell's text with pipes escaped and on one line."""
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


# ---------------------------------------------------------------- logs


def sample_lines() -> tuple[list[bytes], str]:
    """The lines logs are built from (elastic-apache, else made by Twisted) and their story."""
    if ELASTIC.is_file():
        data = ELASTIC.read_bytes()
        lines = data.splitlines(keepends=True)
        return lines, (f"`{ELASTIC_LABEL}` ({len(lines):,} Apache combined lines, "
                       f"{len(data) / 1e6:.2f} MB, one of them malformed)")
    return generated_lines(10_000), (
        f"{ELASTIC_LABEL} was absent: 10,000 lines generated with Twisted's "
        "`twisted.web.http.combinedLogFormatter` and a `DummyRequest` (client address "
        "unquoted, as Apache writes it, so that every tool reads them)")


def generated_lines(count: int) -> list[bytes]:
    """Combined log lines written by Twisted's own formatter for varied dummy requests."""
    import random

    from twisted.internet.address import IPv4Address
    from twisted.web.http import combinedLogFormatter, datetimeToLogString
    from twisted.web.test.requesthelper import DummyRequest

    rng = random.Random(4)
    pages = [f"/articles/{n}.html" for n in range(300)] + ["/", "/favicon.ico", "/robots.txt"]
    referrers = [b"http://www.google.com/search?q=twisted", b"https://example.org/links",
                 b"http://semicomplete.com/", b""]
    agents = [b"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
              b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
              b"curl/8.5.0"]
    start = 1_700_000_000
    lines = []
    for index in range(count):
        request = DummyRequest([b""])
        request.method = rng.choice([b"GET", b"GET", b"GET", b"POST", b"HEAD"])
        request.uri = rng.choice(pages).encode()
        request.clientproto = b"HTTP/1.1"
        request.code = rng.choice([200] * 8 + [304, 404])
        request.sentLength = rng.randrange(100, 200_000)
        request.client = IPv4Address("TCP", f"10.{rng.randrange(256)}.{rng.randrange(256)}.7", 1)
        referrer = rng.choice(referrers)
        if referrer:
            request.requestHeaders.setRawHeaders(b"referer", [referrer])
        request.requestHeaders.setRawHeaders(b"user-agent", [rng.choice(agents)])
        text = combinedLogFormatter(datetimeToLogString(start + index // 3), request)
        if text.startswith('"'):  # Twisted quotes the client; Apache does not
            end = text.index('"', 1)
            text = text[1:end] + text[end + 1:]
        lines.append(text.encode() + b"\n")
    return lines


class LogCache:
    """Logs built once per run in the work dir by repeating the sample lines, with their story."""

    def __init__(self, work: Path) -> None:
        """Read the sample; logs go to C{work}/logs."""
        self.dir = work / "logs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lines, self.origin = sample_lines()
        self.data = b"".join(self.lines)
        self.built: dict[str, tuple[Path, int, int]] = {}
        self.stories: dict[str, str] = {}

    def sample(self) -> Path:
        """The sample itself, copied (so that servers never touch the original)."""
        return self._build("sample", 1)

    def by_lines(self, count: int) -> Path:
        """A log of exactly C{count} lines: the sample repeated, the last copy cut short."""
        name = f"lines-{count}"
        if name not in self.built:
            path = self.dir / f"{name}.log"
            whole, rest = divmod(count, len(self.lines))
            self._write(path, whole, b"".join(self.lines[:rest]))
            self.built[name] = (path, count, path.stat().st_size)
            self.stories[name] = (f"{count:,} lines, {path.stat().st_size / 1e6:,.1f} MB: the "
                                  f"sample repeated {count / len(self.lines):g} times")
        return self.built[name][0]

    def by_size(self, size: int, label: str) -> Path:
        """A log of about C{size} bytes made of whole copies of the sample, written in chunks."""
        copies = max(1, round(size / len(self.data)))
        return self._build(label, copies)

    def _build(self, name: str, copies: int) -> Path:
        """Write C{copies} copies of the sample to C{name}.log, cat-style, in ~64 MB chunks."""
        if name not in self.built:
            path = self.dir / f"{name}.log"
            self._write(path, copies)
            lines = copies * len(self.lines)
            self.built[name] = (path, lines, path.stat().st_size)
            self.stories[name] = (f"{lines:,} lines, {path.stat().st_size / 1e6:,.1f} MB: the "
                                  f"sample repeated {copies} times")
        return self.built[name][0]

    def _write(self, path: Path, copies: int, tail: bytes = b"") -> None:
        """Write C{copies} copies of the sample then C{tail}, in chunks of about 64 MB."""
        per_chunk = max(1, (64 << 20) // len(self.data))
        with open(path, "wb") as out:
            left = copies
            while left > 0:
                take = min(left, per_chunk)
                out.write(self.data * take)
                left -= take
            out.write(tail)

    def lines_of(self, path: Path) -> int:
        """How many lines a built log has."""
        for built, lines, _ in self.built.values():
            if built == path:
                return lines
        raise KeyError(path)

    def remove(self, path: Path) -> None:
        """Delete a built log (the 1 GB one, once done with it)."""
        for name, (built, _, _) in list(self.built.items()):
            if built == path:
                del self.built[name]
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raise_nofile(limit: int = 4096) -> None:
    """Raise this process's open-file limit (soft and, if needed and allowed, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < limit:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            return
        except (ValueError, OSError):
            limit = hard
    if soft < limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def served_www(work: Path) -> Path:
    """A copy of the repo's www/ with the article's trivial plain.rpy added."""
    www = work / "www"
    if not www.exists():
        shutil.copytree(REPO / "www", www, ignore=shutil.ignore_patterns("weblog.html*"))
        (www / "plain.rpy").write_text(PLAIN_RPY)
    return www


class Server:
    """A real `twistd web --path` serving a copy of www/, following one log, on 127.0.0.1."""

    def __init__(self, work: Path, log: Path, name: str, env: dict[str, str] | None = None,
                 nofile: int | None = None) -> None:
        """Describe the server; L{start} (or C{with}) starts it."""
        self.work = work
        self.log = log
        self.name = name
        self.dir = work / f"server-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.extra_env = env or {}
        self.nofile = nofile
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> float:
        """Start twistd; return the monotonic time just before the process was made."""
        www = served_www(self.work)
        self.port = free_port()
        env = dict(os.environ)
        env.update({"WEBLOG_LOG": str(self.log), "WEBLOG_STATE": str(self.dir),
                    "PYTHONDONTWRITEBYTECODE": "1"})
        env.update(self.extra_env)
        nofile = self.nofile
        command = [TWISTD, "--nodaemon", "--pidfile=", "web", "--path", str(www),
                   "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                   "--logfile", str(self.dir / "access.log")]
        output = open(self.dir / "twistd.log", "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: raise_nofile(nofile)) if nofile else None,
        )
        output.close()
        return self.started

    def wait_listening(self, timeout: float = 30.0) -> None:
        """Wait until the port accepts connections; fail if twistd exited or took too long."""
        assert self.proc is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"twistd exited with {self.proc.returncode}: "
                                   f"{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"twistd did not listen within {timeout:.0f} s: {self.tail()}")

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, timeout: float = 60.0) -> tuple[int, bytes]:
        """GET a path; return the status and the whole body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def get_json(self, path: str) -> Any:
        """GET a path and decode its JSON body; fail on a status other than 200."""
        status, body = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: status {status}: {body[:200]!r}")
        return json.loads(body)

    def rss_mb(self) -> float:
        """The server's resident memory now, in MB, from /proc/PID/status."""
        return proc_status_kb(self.pid, "VmRSS") / 1024

    def cpu_seconds(self) -> float:
        """The server's user and system CPU time so far."""
        return cpu_seconds(self.pid)

    @property
    def pid(self) -> int:
        """The twistd process id."""
        assert self.proc is not None
        return self.proc.pid

    def tail(self, size: int = 600) -> str:
        """The end of twistd's own log, for error messages."""
        try:
            return (self.dir / "twistd.log").read_bytes()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop twistd: SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        """Start and wait until it listens."""
        self.start()
        try:
            self.wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()


def proc_status_kb(pid: int, key: str) -> float:
    """A kB figure (VmRSS, VmHWM) from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    raise KeyError(key)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB; unlike ru_maxrss, not inherited."""
    return proc_status_kb(os.getpid(), "VmHWM") / 1024


def cpu_seconds(pid: int) -> float:
    """A process's user plus system CPU seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- writing a log at a rate


def log_time() -> str:
    """Now as an access log's time stamp, in UTC."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())


def append_at_rate(path: Path, rate: float, seconds: float, batch: Callable[[int], bytes],
                   interval: float = 0.01) -> tuple[int, float]:
    """Append C{batch(n)} lines at C{rate}/s for C{seconds}; return lines written and time."""
    # Each batch, every `interval`, holds the lines due by then, so a late batch catches up;
    # batch(count) makes their bytes at the moment they are written.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    written = 0
    start = time.monotonic()
    end = start + seconds
    try:
        while True:
            now = time.monotonic()
            due = int((min(now, end) - start) * rate)
            if due > written:
                data = batch(due - written)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                written = due
            if now >= end:
                break
            time.sleep(max(0.0, min(interval - (time.monotonic() - now), end - now)))
    finally:
        os.close(fd)
    return written, time.monotonic() - start


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    """What one wrk run reported."""

    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    """wrk's duration text (512.00us, 6.74ms, 1.02s) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def wrk(url: str, seconds: int, connections: int = 20, threads: int = 1) -> WrkResult:
    """Run wrk once against a URL on 127.0.0.1; parse requests/s and the latency percentiles."""
    assert url.startswith("http://127.0.0.1:"), url
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed ({done.returncode}): {out[-400:]} {done.stderr[-400:]}")
    percent = {p: _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.MULTILINE)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=percent["50"], p75_ms=percent["75"], p90_ms=percent["90"], p99_ms=percent["99"],
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


# ---------------------------------------------------------------- tools and machine


def run_text(command: list[str], timeout: float = 30.0) -> str:
    """A command's stdout and stderr as text, or '' if it cannot run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def ensure_tools() -> tuple[dict[str, str | None], list[str]]:
    """Find goaccess and wrk (as root, apt-get the missing); return versions and notes."""
    notes: list[str] = []
    missing = [tool for tool in ("goaccess", "wrk") if shutil.which(tool) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"bench: installing {' '.join(missing)} with apt-get", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update"], env=env, timeout=600, check=False,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", *missing], env=env, timeout=900,
                           check=False, stdout=subprocess.DEVNULL)
        except subprocess.SubprocessError as error:
            notes.append(f"apt-get failed: {error}")
        missing = [tool for tool in missing if shutil.which(tool) is None]
    if missing:
        line = (f"bench: {' and '.join(missing)} not found: install with "
                f"`apt-get install -y {' '.join(missing)}` (as root); the rows that need "
                f"{'them' if len(missing) > 1 else 'it'} are marked not measured")
        print(line, flush=True)
        notes.append(line.removeprefix("bench: "))
    versions: dict[str, str | None] = {}
    versions["goaccess"] = (run_text(["goaccess", "--version"]).splitlines() or ["?"])[0] \
        .rstrip(".") if shutil.which("goaccess") else None
    versions["wrk"] = (run_text(["wrk", "-v"]).splitlines() or ["?"])[0].split(" Copyright")[0] \
        if shutil.which("wrk") else None
    if versions["goaccess"] and "1.7" not in versions["goaccess"]:
        notes.append(f"the issue asks for GoAccess 1.7; this machine has {versions['goaccess']}")
    return versions, notes


def machine() -> list[tuple[str, str]]:
    """The machine, software versions, date and commit, as (label, value) pairs."""
    import twisted

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return [
        ("cores (nproc)", run_text(["nproc"]) or str(os.cpu_count())),
        ("CPU", model),
        ("memory", memory),
        ("kernel", run_text(["uname", "-sr"])),
        ("Python", sys.version.split()[0]),
        ("Twisted", twisted.__version__),
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %z")),
        ("commit", commit()),
    ]


def commit() -> str:
    """The short HEAD commit, plus 'dirty' and the changed paths when the tree has changes."""
    head = run_text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "unknown"
    try:
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                                capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        status = ""
    changed = [line[3:] for line in status.splitlines() if line[3:] != "BENCHMARKS.md"]
    if not changed:
        return head
    shown = ", ".join(changed[:8]) + (", ..." if len(changed) > 8 else "")
    return f"{head} dirty ({shown})"


def child_json(command: list[str], timeout: float) -> dict[str, Any]:
    """Run a child Python process that prints one JSON object as its last line; return it."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-4000:])
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        name = " ".join(Path(part).name for part in command[1:3])
        raise RuntimeError(f"{name} exited with {done.returncode}: {last}")
    return dict(json.loads(lines[-1]))


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    """Call a function; return the seconds it took and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result
