# -*- test-case-name: tests.test_pages -*-
"""Helpers for the tests: www/ served by a real Site on 127.0.0.1; logs, lines and requests."""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast
from unittest import mock

import bcrypt
from persist import ICounter, IRecords, Records
from twisted.internet import defer, protocol, reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial import unittest
from twisted.web import http, script, server, static
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.test.requesthelper import DummyRequest
from weblog.hit import Hit

from tests.server import TwistdServer as TwistdServer  # re-exported: bench/ uses tests.server
from tests.server import free_port as free_port

REPO = FilePath(os.path.abspath(__file__)).parent().parent()
SHARED_DATA = REPO.parent().child("shared").child("data")

COMBINED = (
    '{client} - - [{time}] "{request}" {status} {size} "{referrer}" "{agent}"\n'
)


def apache_escape(text: str) -> str:
    """Escape a field as Apache writes it: backslash before quotes and backslashes."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def combined(
    resource: str = "/index.html",
    referrer: str = "http://example.com/",
    status: int = 200,
    client: str = "203.0.113.7",
    time: str = "17/May/2015:10:05:03 +0000",
    agent: str = "Mozilla/5.0",
    method: str = "GET",
) -> str:
    """One Apache combined line, its quoted fields escaped as Apache escapes them."""
    return COMBINED.format(
        client=client, time=time, request=apache_escape(f"{method} {resource} HTTP/1.1"),
        status=status, size=123, referrer=apache_escape(referrer), agent=apache_escape(agent),
    )


class LoggedRequest(DummyRequest):
    """A L{DummyRequest} with the attributes that C{combinedLogFormatter} reads."""

    code = 200
    sentLength: int | None = None


def shared_file(*segments: str) -> FilePath:
    """A file under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.descendant(list(segments))
    if not path.exists():
        raise unittest.SkipTest(
            f"{path.path} is absent: ../shared/data ships with the development setup, "
            "not with a clone"
        )
    return path


class Collect(protocol.Protocol):
    """Collects a streamed response body; fires `waiting` when `wanted` text arrives."""

    def __init__(self) -> None:
        self.data = b""
        self.wanted: bytes | None = None
        self.waiting: defer.Deferred[bytes] | None = None
        self.done: defer.Deferred[None] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if self.wanted is not None and self.wanted in self.data and self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            waiting.callback(self.data)

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(None)

    def stopReceiving(self) -> None:
        """Drop the stream from this end: its response's transport stops producing."""
        producer: IPushProducer = cast(IPushProducer, self.transport)
        producer.stopProducing()

    def waitFor(self, text: bytes, timeout: float = 5.0) -> defer.Deferred[bytes]:
        """A Deferred that fires when `text` has arrived, or fails after `timeout` seconds."""
        if text in self.data:
            return defer.succeed(self.data)
        self.wanted = text
        self.waiting = defer.Deferred()
        return self.waiting.addTimeout(timeout, reactor)


def setEnvironment(testCase: unittest.TestCase, **values: str | None) -> None:
    """Set (or, for C{None}, unset) environment variables until C{testCase} cleans up."""
    patcher = mock.patch.dict(os.environ)
    patcher.start()
    testCase.addCleanup(patcher.stop)
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class SiteCase(unittest.TestCase):
    """A TestCase that serves a copy of www/ and fetches pages from it over HTTP."""

    def setUp(self) -> None:
        self.base = FilePath(self.mktemp())
        self.base.makedirs()
        self.www = self.base.child("www")
        REPO.child("www").copyTo(self.www)
        self.log = self.base.child("access.log")
        self.state = self.base.child("state")
        patcher = mock.patch.dict(
            os.environ,
            {"WEBLOG_LOG": self.log.path, "WEBLOG_STATE": self.state.path, "WEBLOG_KEEP": "1000"},
        )
        patcher.start()
        self.addCleanup(patcher.stop)
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.agent = Agent(reactor, pool=self.pool)
        self.root: static.File | None = None
        self.port: Any = None

    def serve(self) -> static.File:
        """Serve the www copy as `twistd web --path` does; return the root resource."""
        root = static.File(self.www.path)
        root.processors = {".rpy": script.ResourceScript}
        site: Any = server.Site(root)  # Twisted's hints do not see Site as a ServerFactory
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.root, self.port = root, port
        self.addCleanup(self.stopServing)
        return root

    def stopServing(self) -> defer.Deferred[None]:
        """Stop the shared objects (as reactor shutdown would) and the listening port."""
        root, port = self.root, self.port
        if root is None:
            return defer.succeed(None)
        self.root = self.port = None
        records = root.registry.getComponent(IRecords)
        if records is not None:
            records.stop()
        counter = root.registry.getComponent(ICounter)
        if counter is not None:
            counter.stop()
        return defer.maybeDeferred(port.stopListening)

    @defer.inlineCallbacks
    def openStream(self, query: str = "", headers: dict[bytes, list[bytes]] | None = None):
        """Open an event stream; return the response and its collecting protocol."""
        url = f"http://127.0.0.1:{self.port.getHost().port}/weblog.rpy/events{query}"
        agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
        response = yield agent.request(b"GET", url.encode(), Headers(headers or {}))
        collector = Collect()
        response.deliverBody(collector)
        self.addCleanup(lambda: collector.done)
        self.addCleanup(collector.stopReceiving)
        return response, collector

    def writeLog(self, *lines: str | bytes) -> None:
        """Append lines to the followed log."""
        with open(self.log.path, "ab") as log:
            for line in lines:
                log.write(line.encode("utf-8") if isinstance(line, str) else line)

    def afterWakeGap(self) -> defer.Deferred[None]:
        """Wait until the next request polls the log again (pages poll at most every WAKE_GAP)."""
        from twisted.internet.task import deferLater

        return deferLater(reactor, Records.WAKE_GAP * 1.5, lambda: None)

    @defer.inlineCallbacks
    def get(self, path: str, headers: dict[bytes, list[bytes]] | None = None):
        """GET a path from the served site; return (code, headers, body)."""
        url = f"http://127.0.0.1:{self.port.getHost().port}{path}".encode("ascii")
        response = yield self.agent.request(b"GET", url, Headers(headers or {}))
        body = yield readBody(response)
        return response.code, response.headers, body


def unblockFifo(path: str) -> None:
    """Open the FIFO at C{path} for writing and close it: a reader blocked opening it goes on."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # nobody has it open for reading: nobody waits on it


def withinDeadline(testCase: unittest.TestCase, work: Any, fifos: list[str],
                   seconds: float = 5.0) -> Any:
    """
    Run C{work()} in a thread; fail the test if it has not returned within C{seconds}.

    Opening a FIFO for reading waits for a writer: should C{work} block so, each of
    C{fifos} is given one, so that no thread outlives the test, and the test fails
    instead of hanging.

    @return: what C{work()} returned.
    @raise BaseException: what C{work()} raised.
    """
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as error:
            outcome.append((False, error))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        deadline = time.monotonic() + seconds
        while worker.is_alive() and time.monotonic() < deadline:
            for fifo in fifos:
                unblockFifo(fifo)
            worker.join(0.05)
        testCase.fail(f"blocked opening one of {fifos}")
    [(returned, value)] = outcome
    if not returned:
        raise value
    return value


# The unit tests' helpers: logs in fresh directories, the lines written to them, the hits.


class DirectoryCase(unittest.TestCase):
    """
    A fresh directory (C{self.directory}), the path of a file in it (C{self.path}, named
    C{fileName}: by default a log), a Clock (C{self.clock}), and ways to write the file.
    """

    fileName = "access.log"

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, self.fileName)
        self.clock = Clock()

    def append(self, data: bytes, path: str | None = None) -> None:
        """Append C{data} to the file (or to C{path}), opening and closing it."""
        with open(path or self.path, "ab") as log:
            log.write(data)

    def writer(self, path: str | None = None) -> io.FileIO:
        """Open the file (or C{path}) for unbuffered appending, as a server holds its log open."""
        handle = open(path or self.path, "ab", buffering=0)
        self.addCleanup(handle.close)
        return handle


def page_line(number: int, status: int = 200, length: int | None = None) -> bytes:
    """
    A real-looking Apache combined line (no line ending) for a request of C{/page/number}.

    @param length: if given, pad the user-agent so that the line is exactly this many bytes.
    """
    line = (
        b'83.149.9.%d - - [17/May/2015:10:%02d:%02d +0000] "GET /page/%d HTTP/1.1" %d %d '
        b'"http://semicomplete.com/from/%d" "Mozilla/5.0 (X11; Linux x86_64)'
        % (number % 256, number // 60 % 60, number % 60, number, status, 1000 + number, number)
    )
    if length is not None:
        padding = length - len(line) - 2
        assert padding >= 0, f"a line of {length} bytes is too short"
        line += b" " + b"x" * padding
    return line + b'"'


def page_log(numbers: range, length: int | None = None) -> bytes:
    """The lines of L{page_line} for C{numbers}, each ended by a newline."""
    return b"".join(page_line(number, length=length) + b"\n" for number in numbers)


def pages(numbers: range) -> list[str]:
    """The resources of L{page_line}'s lines for C{numbers}."""
    return [f"/page/{number}" for number in numbers]


def resources(hits: Iterable[Hit]) -> list[str]:
    """The resource of each hit."""
    return [hit.resource for hit in hits]


def htpasswd_entry(user: str, password: str | bytes, cost: int = 4) -> bytes:
    """An entry as `htpasswd -B` writes it ($2y$), with a cheap cost for tests."""
    secret = password.encode() if isinstance(password, str) else password
    hashed = bcrypt.hashpw(secret[:72], bcrypt.gensalt(cost)).replace(b"$2b$", b"$2y$", 1)
    return user.encode() + b":" + hashed + b"\n"


def basic(user: str, password: str) -> dict[bytes, list[bytes]]:
    """An Authorization header for Basic credentials."""
    token = base64.b64encode(f"{user}:{password}".encode())
    return {b"authorization": [b"Basic " + token]}


# Golden lines, and lines written field by field as a server writes them.

ELASTIC_FIRST = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] '
    '"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" '
    '200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" '
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 '
    '(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"'
)
"""The first line of shared/data/elastic-apache/access.log."""
ELASTIC_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"
)
"""Its user-agent."""
APACHE_COMMON = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
)
"""The Apache documentation's example of a common line."""
APACHE_COMBINED = (
    APACHE_COMMON + ' "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)
"""The Apache documentation's example of a combined line."""
WHEN = datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC)
"""The time of L{written}'s lines."""
XSS = '"><script>alert(1)</script>'


def written(
    request: str = "GET /index.html HTTP/1.1",
    referrer: str = "http://example.com/",
    agent: str = "Mozilla/5.0",
    client: str = "203.0.113.7",
    status: str = "200",
    size: str = "512",
    time: str = "17/May/2015:10:05:03 +0000",
) -> str:
    """A combined line (no line ending) of fields already escaped as a server writes them."""
    return f'{client} - - [{time}] "{request}" {status} {size} "{referrer}" "{agent}"'


def written_hit(
    resource: str = "/index.html",
    referrer: str | None = "http://example.com/",
    agent: str | None = "Mozilla/5.0",
) -> Hit:
    """The hit that L{written} with the same fields (and the others' defaults) parses to."""
    return Hit(
        client="203.0.113.7", ident="-", user="-", time=WHEN, method="GET",
        resource=resource, protocol="HTTP/1.1", status=200, bytes=512,
        referrer=referrer, agent=agent,
    )


def twisted_line(
    referrer: bytes | None = None,
    agent: bytes | None = None,
    client: IPv4Address | IPv6Address | None = None,
    sent: int | None = 1234,
    uri: bytes = b"/index.html?q=1",
    method: bytes = b"GET",
    protocol: bytes = b"HTTP/1.1",
    status: int = 200,
    when: int = 1234567890,
) -> str:
    """Have Twisted's own C{combinedLogFormatter} write the line for one request."""
    request = LoggedRequest([b""])
    request.client = client or IPv4Address("TCP", "203.0.113.7", 54321)
    request.method = method
    request.uri = uri
    request.clientproto = protocol
    request.code = status
    request.sentLength = sent
    if referrer is not None:
        request.requestHeaders.setRawHeaders(b"referer", [referrer])
    if agent is not None:
        request.requestHeaders.setRawHeaders(b"user-agent", [agent])
    line: str = http.combinedLogFormatter(http.datetimeToLogString(when), request)
    return line


def inDirectory(testCase: unittest.TestCase, directory: FilePath) -> None:
    """Make C{directory} the working directory until C{testCase} cleans up."""
    testCase.addCleanup(os.chdir, os.getcwd())
    os.chdir(directory.path)


@defer.inlineCallbacks
def assertNotServed(case: SiteCase, paths: Iterable[str], secret: bytes) -> Any:
    """Assert that each of C{paths} on C{case}'s site is a 404 that does not show C{secret}."""
    for path in paths:
        code, _, body = yield case.get(path)
        case.assertEqual(code, 404, path)
        case.assertNotIn(secret, body)


def numbered(first: int, count: int, prefix: str = "/n/") -> bytes:
    """C{count} combined lines, each naming its number (from C{first}) in its resource."""
    return b"".join((written(f"GET {prefix}{number} HTTP/1.1") + "\n").encode()
                    for number in range(first, first + count))


def writing(case: unittest.TestCase, historian: Any) -> threading.Thread:
    """Run C{historian}'s writer in a thread of its own until C{case} cleans up; the thread."""
    writer = threading.Thread(target=historian.run)
    writer.start()
    case.addCleanup(writer.join, 30)
    case.addCleanup(historian.stop)
    return writer


def awaited(historian: Any, done: Any, seconds: float = 60) -> dict[str, Any]:
    """Wait (a bounded while) until C{done(status)} holds of C{historian}'s status; return the
    last status, whether it holds or not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done(historian.status()):
        time.sleep(0.02)
    status: dict[str, Any] = historian.status()
    return status
