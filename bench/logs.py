"""The logs the benchmarks read: a sample of real lines, logs built from it, a rate writer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from machine import REPO

ELASTIC = REPO.parent / "shared" / "data" / "elastic-apache" / "access.log"
ELASTIC_LABEL = "../shared/data/elastic-apache/access.log"


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

    from tests.support import LoggedRequest

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
        request = LoggedRequest([b""])
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
