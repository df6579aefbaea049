# -*- test-case-name: tests.e2e.test_syslog -*-
"""
Syslog from real senders into a real twistd, with the README's blocks as written (their
address, port, paths and tag replaced): nginx's C{access_log syslog:} over UDP, one nginx
and three at once; rsyslog's C{imfile} and C{omfwd} over TCP, octet-counted, LF-framed and
RFC 5424.  Every line a sender sent is one hit of its source C{syslog:HOST/TAG}, live, in
the history, in the metrics, and in the spool under C{$WEBLOG_STATE/syslog/}: the same
lines, as a multiset, as the file beside (nginx's own file log, or the file rsyslog reads).
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from twisted.trial import unittest
from weblog.parsing import parse_line
from weblog.spool import HEADER
from weblog.wake import wake

from tests.e2e.readme import need, readme_block
from tests.nginx import nginx_binary, start_nginx, stop_process
from tests.support import TwistdServer, free_port

RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd"
                                        if os.path.exists("/usr/sbin/rsyslogd") else None)
README_ADDRESS, README_PORT = "10.0.0.5", "5514"
"""Where the README's blocks send, replaced by 127.0.0.1 and the test's port."""
README_LOG = "/var/log/nginx/access.log"
"""The file log of the README's blocks, replaced by the test's."""
WAIT = 30.0
"""The most seconds any one wait lasts (each is a loop that ends by itself)."""
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "curl/8.4.0", 'evil "agent" <script>')
KEYS = ("client", "method", "resource", "protocol", "status", "bytes", "referrer", "agent",
        "source")
"""The keys of a hit's JSON compared with its line (with its time, in UTC)."""
T = TypeVar("T")


def host_name(text: str) -> str:
    """A HOSTNAME as a source names it: other characters than C{[A-Za-z0-9._:-]} made C{_}."""
    return re.sub(r"[^A-Za-z0-9._:-]", "_", text)


def tag_name(text: str) -> str:
    """A TAG or APP-NAME as a source names it: other than C{[A-Za-z0-9._-]} made C{_}."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


NGINX_HOST = host_name(socket.gethostname().lower())
"""The HOSTNAME nginx sends: C{gethostname()} in lower case (nginx's C{ngx_strlow})."""
RSYSLOG_HOST = host_name(socket.gethostname().split(".")[0])
"""The HOSTNAME rsyslog sends: its local host name up to the first dot (no preserveFQDN)."""


def replaced(text: str, *pairs: tuple[str, str]) -> str:
    """C{text} with each C{old} made C{new}; each must be there (the README changed if not)."""
    for old, new in pairs:
        if old not in text:
            raise AssertionError(f"the README's block no longer has {old!r}: {text!r}")
        text = text.replace(old, new)
    return text


def waited(probe: Callable[[], T], done: Callable[[T], bool], seconds: float = WAIT,
           alive: Callable[[], None] | None = None) -> T:
    """C{probe()} again until C{done} says so of it, or C{seconds} passed: its last value.
    C{alive}, if given, raises when a sender the wait depends on has died."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if done(value) or time.monotonic() > deadline:
            return value
        if alive is not None:
            alive()
        time.sleep(0.1)


def syslog_port() -> int:
    """A port of 127.0.0.1 free for both TCP and UDP right now."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no port of 127.0.0.1 is free for both TCP and UDP")


def bound(protocol: str, port: int) -> bool:
    """Whether a socket listens (TCP) or is bound (UDP) on C{port}, by /proc/net: so that no
    probe reaches the server as a connection or a datagram of its own."""
    state = "0A" if protocol == "tcp" else "07"  # TCP_LISTEN; UDP's unconnected TCP_CLOSE
    for table in (f"/proc/net/{protocol}", f"/proc/net/{protocol}6"):
        try:
            with open(table) as file:
                rows = file.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == state:
                return True
    return False


def stamp(when: datetime) -> str:
    """A time as an access log writes it (in English whatever the locale)."""
    return (f"{when.day:02d}/{MONTHS[when.month - 1]}/{when.year}:"
            f"{when:%H:%M:%S} +0000")


def site_lines(first: int, count: int) -> list[bytes]:
    """C{count} combined lines of now (older ones would fall to the history's retention
    beside the server's own hits of now), numbered from C{first}: statuses, referrers and
    agents varied, one agent with quotes escaped as Apache escapes them."""
    now = datetime.now(UTC)
    lines = []
    for number in range(first, first + count):
        agent = AGENTS[number % len(AGENTS)].replace('"', '\\"')
        referrer = "-" if number % 4 == 0 else f"https://example.org/from/{number % 7}"
        status = 404 if number % 5 == 0 else 200
        lines.append(f'198.51.100.{number % 250} - - [{stamp(now)}] "GET /page/{number}?n='
                     f'{number} HTTP/1.1" {status} {100 + number} "{referrer}" "{agent}"'
                     .encode())
    return lines


def row(hit: dict[str, Any]) -> tuple[Any, ...]:
    """What a hit's JSON is compared by: its time in UTC, then L{KEYS}."""
    return (datetime.fromisoformat(hit["time"]).astimezone(UTC),
            *(hit[key] for key in KEYS))


def rows_of(lines: Iterable[bytes], source: str) -> Counter[tuple[Any, ...]]:
    """The hits the lines are, as weblog reads them, with their source."""
    return Counter(row(parse_line(line, source).to_json()) for line in lines)


class Weblog:
    """A real twistd receiving syslog where the README's C{WEBLOG_SYSLOG} says (at the
    test's port of 127.0.0.1), the history on; what it says of a source."""

    def __init__(self, case: unittest.TestCase, port: int) -> None:
        setting = re.search(r"WEBLOG_SYSLOG=(\S+)", readme_block("syslog-env"))
        assert setting is not None, "the README's syslog-env block sets no WEBLOG_SYSLOG"
        listeners = replaced(setting.group(1), (f"{README_ADDRESS}:{README_PORT}",
                                                f"127.0.0.1:{port}"))
        self.server = TwistdServer(case, env={"WEBLOG_SYSLOG": listeners})
        self.server.start()
        # as ./run.sh and the README's unit do: one page, and the server starts its shared
        # objects, the syslog listeners among them
        problem = wake(self.server.url(""), timeout=30)
        case.assertEqual(problem, "")
        wanted = [listener.split(":")[0] for listener in listeners.split(",")]
        listening = waited(lambda: [each for each in wanted if bound(each, port)],
                           lambda found: found == wanted, 10)
        case.assertEqual(listening, wanted, f"weblog must listen at {listeners} once started:"
                         f" {self.server.tail()}")

    def lines(self, source: str) -> int | None:
        """C{weblog_lines_total} of the source, in /metrics.rpy (None while absent)."""
        status, body = self.server.get("/metrics.rpy")
        assert status == 200, (status, body[:300])
        prefix = f'weblog_lines_total{{source="{source}"}} '
        for line in body.decode("utf-8").splitlines():
            if line.startswith(prefix):
                return int(float(line[len(prefix):]))
        return None

    def live(self) -> dict[str, Any]:
        """The live view's JSON, every hit of any status and referrer (up to 1000)."""
        document: dict[str, Any] = self.server.get_json(
            "/weblog.rpy/json?status=all&referrer=any&own=hide&limit=1000")
        return document

    def live_rows(self, source: str) -> Counter[tuple[Any, ...]]:
        """The live view's hits of the source."""
        return Counter(row(hit) for hit in self.live()["hits"] if hit["source"] == source)

    def history(self, **filters: str) -> dict[str, Any] | None:
        """The history's JSON of all its hits (of any status and referrer, the first 1000
        listed) with the filters; None while it cannot answer (503: starting)."""
        query = urllib.parse.urlencode({"range": "all", "status": "all", "referrer": "any",
                                        "limit": "1000", **filters})
        status, body = self.server.get(f"/weblog.rpy/json?{query}")
        if status == 503:
            return None
        assert status == 200, (status, body[:300])
        document: dict[str, Any] = json.loads(body)
        return document

    def stored(self, source: str, count: int) -> dict[str, Any] | None:
        """The history's JSON of the source's hits, once it has C{count} (or after L{WAIT})."""
        return waited(lambda: self.history(source=source),
                      lambda document: document is not None and document["total"] >= count)

    def spooled(self) -> Counter[bytes]:
        """Every line of every file under the spool, C{var/syslog/} (gzipped ones too), each
        file's header left out (and checked: the first line, and only there)."""
        found: Counter[bytes] = Counter()
        spool = self.server.base.descendant(["var", "syslog"]).path
        for directory, _, names in os.walk(spool):
            for name in names:
                path = os.path.join(directory, name)
                with (gzip.open(path) if name.endswith(".gz") else open(path, "rb")) as file:
                    header, *lines = file.read().splitlines()
                assert header.startswith(HEADER), (path, header[:80])
                assert not any(line.startswith(b"#") for line in lines), path
                found.update(lines)
        return found


class Checks(unittest.TestCase):
    """What each test asks of weblog about the lines a sender sent."""

    timeout = 60

    def received(self, weblog: Weblog, source: str, lines: list[bytes],
                 alive: Callable[[], None] | None = None) -> None:
        """The source's hits are the lines, each once: counted in the metrics, live, in the
        JSON's C{log.lines}, in the history (filtered by C{source=}), and in the spool."""
        count = waited(lambda: weblog.lines(source), lambda seen: (seen or 0) >= len(lines),
                       alive=alive)
        self.assertEqual(count, len(lines), f"weblog_lines_total{{source={source!r}}}")
        expected = rows_of(lines, source)
        self.assertEqual(weblog.live_rows(source), expected)
        self.assertGreaterEqual(weblog.live()["log"]["lines"], len(lines))
        document = weblog.stored(source, len(lines))
        assert document is not None, f"the history never answered: {weblog.server.tail()}"
        self.assertEqual(document["total"], len(lines), f"the history's hits of {source}")
        self.assertEqual(Counter(row(hit) for hit in document["hits"]), expected)

    def spool(self, weblog: Weblog, lines: Iterable[bytes]) -> None:
        """The spool holds exactly the lines sent, each once (all sources together)."""
        self.assertEqual(weblog.spooled(), Counter(lines))


class Nginx:
    """A real nginx on 127.0.0.1 with the README's C{access_log} lines: its file log, and
    syslog over UDP to weblog's port, with its own tag."""

    def __init__(self, case: unittest.TestCase, port: int, tag: str) -> None:
        self.case = case
        self.base = os.path.abspath(case.mktemp())
        os.makedirs(os.path.join(self.base, "www"))
        with open(os.path.join(self.base, "www", "index.html"), "w") as page:
            page.write("<p>hello</p>\n")
        self.log = os.path.join(self.base, "access.log")
        logs = replaced(readme_block("syslog-nginx"), (README_LOG, self.log),
                        (f"{README_ADDRESS}:{README_PORT}", f"127.0.0.1:{port}"),
                        ("tag=web1", f"tag={tag}"))
        self.port = free_port()
        start_nginx(case, self.base, self.port,
                    "".join(f"    {line}\n" for line in logs.splitlines())
                    + f"    server {{ listen 127.0.0.1:{self.port}; root {self.base}/www; }}\n")
        self.source = f"syslog:{NGINX_HOST}/{tag_name(tag)}"

    def serve(self, count: int) -> int:
        """C{count} requests (a third of them 404s, agents and referrers varied), each on a
        connection of its own; how many nginx answered."""
        answered = 0
        for number in range(count):
            path = "/index.html" if number % 3 else f"/missing/{number}?q=<b>"
            headers = {"User-Agent": AGENTS[number % len(AGENTS)]}
            if number % 2:
                headers["Referer"] = f"https://example.org/from/{number}"
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                self.case.assertEqual(response.status, 200 if number % 3 else 404)
                answered += 1
            finally:
                connection.close()
        return answered

    def logged(self, count: int) -> list[bytes]:
        """nginx's file log, once it holds C{count} lines (or after L{WAIT})."""
        def lines() -> list[bytes]:
            with open(self.log, "rb") as file:
                return file.read().splitlines()
        found = waited(lines, lambda found: len(found) >= count)
        self.case.assertEqual(len(found), count, "nginx's file log")
        return found


class NginxTests(Checks):
    """nginx's access log over UDP, as the README has it."""

    def setUp(self) -> None:
        nginx_binary(self)
        self.port = syslog_port()
        self.weblog = Weblog(self, self.port)

    def test_oneNginx(self) -> None:
        """
        Each request nginx answered is one hit of C{syslog:HOST/web1}: the lines of its file
        log, as a multiset, live, in the history and in the spool.
        """
        nginx = Nginx(self, self.port, "web1")
        answered = nginx.serve(60)
        lines = nginx.logged(answered)
        self.received(self.weblog, nginx.source, lines)
        self.spool(self.weblog, lines)

    def test_threeNginx(self) -> None:
        """
        Three nginx send to one weblog, each with its tag: the history's C{sources} panel,
        its C{source=} filter, the metrics and the live view count each one's requests.
        """
        servers = [Nginx(self, self.port, tag) for tag in ("web1", "web2", "web3")]
        self.assertEqual(len({nginx.source for nginx in servers}), 3)
        counts = [nginx.serve(count) for nginx, count in zip(servers, (13, 21, 34), strict=True)]
        logs = [nginx.logged(count) for nginx, count in zip(servers, counts, strict=True)]
        for nginx, lines in zip(servers, logs, strict=True):
            self.received(self.weblog, nginx.source, lines)
        document = self.weblog.history()
        assert document is not None
        sources = {name: hits for name, hits in document["sources"]}
        self.assertEqual({nginx.source: sources.get(nginx.source) for nginx in servers},
                         {nginx.source: count for nginx, count in zip(servers, counts,
                                                                       strict=True)},
                         document["sources"])
        self.spool(self.weblog, [line for lines in logs for line in lines])


class RsyslogTests(Checks):
    """rsyslog reads a file with C{imfile} and sends it over TCP with C{omfwd}, as the
    README has it; it never touches the machine's syslog (no C{imuxsock}, no C{imklog}, a
    config, pid file and work directory of its own)."""

    def setUp(self) -> None:
        self.rsyslogd = need(RSYSLOGD, "rsyslog")
        self.port = syslog_port()
        self.weblog = Weblog(self, self.port)
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.base, "work"))
        self.log = os.path.join(self.base, "site.log")
        open(self.log, "wb").close()
        self.source = f"syslog:{RSYSLOG_HOST}/web2"

    def start(self, *variant: tuple[str, str]) -> subprocess.Popen[bytes]:
        """rsyslogd in the foreground with the README's block (the C{variant}'s replacements
        made), its config checked first (C{-N1}); stopped when the test cleans up."""
        block = replaced(readme_block("syslog-rsyslog"), (README_LOG, self.log),
                         (f'target="{README_ADDRESS}" port="{README_PORT}"',
                          f'target="127.0.0.1" port="{self.port}"'), *variant)
        config = os.path.join(self.base, "rsyslog.conf")
        with open(config, "w") as file:
            file.write(f'global(workDirectory="{self.base}/work")\n{block}')
        checked = subprocess.run([self.rsyslogd, "-N1", "-f", config], capture_output=True,
                                 text=True, check=False, timeout=30)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        errors = open(os.path.join(self.base, "rsyslogd.log"), "wb")
        self.addCleanup(errors.close)
        process = subprocess.Popen(
            [self.rsyslogd, "-n", "-f", config, "-i", os.path.join(self.base, "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=errors, stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, process, signal.SIGTERM)
        return process

    def alive(self, process: subprocess.Popen[bytes]) -> Callable[[], None]:
        """What fails the test, with rsyslogd's output, once rsyslogd has exited."""
        def check() -> None:
            if process.poll() is not None:
                with open(os.path.join(self.base, "rsyslogd.log"), "rb") as output:
                    said = output.read()[-1000:].decode(errors="replace")
                self.fail(f"rsyslogd exited with {process.returncode}: {said}")
        return check

    def sent(self, process: subprocess.Popen[bytes]) -> None:
        """Lines appended to the file in two bursts, the second once the first is in: each
        is one hit of C{syslog:HOST/web2}, and the spool holds them."""
        lines = []
        for first, count in ((0, 20), (20, 37)):
            burst = site_lines(first, count)
            with open(self.log, "ab") as file:
                file.write(b"".join(line + b"\n" for line in burst))
            lines += burst
            self.received(self.weblog, self.source, lines, self.alive(process))
        self.spool(self.weblog, lines)

    def test_octetCounted(self) -> None:
        """The README's block as it is: RFC 3164 in RFC 6587's octet-counted frames."""
        self.sent(self.start())

    def test_lineFeeds(self) -> None:
        """Traditional framing: RFC 3164 messages, each ended by LF."""
        self.sent(self.start(('TCP_Framing="octet-counted"', 'TCP_Framing="traditional"')))

    def test_rfc5424(self) -> None:
        """RFC 5424 (rsyslog's RSYSLOG_SyslogProtocol23Format, whose frame ends with an LF
        inside its count), octet-counted."""
        self.sent(self.start(('TCP_Framing="octet-counted"', 'TCP_Framing="octet-counted" '
                              'template="RSYSLOG_SyslogProtocol23Format"')))
