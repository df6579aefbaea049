# -*- test-case-name: tests.test_pages -*-
"""Helpers for the end-to-end tests: a copy of www/ served by a real Site on 127.0.0.1."""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from unittest import mock

from persist import ICounter, IRecords, Records
from twisted.internet import defer, protocol, reactor
from twisted.python.filepath import FilePath
from twisted.trial import unittest
from twisted.web import script, server, static
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.test.requesthelper import DummyRequest

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
        self.addCleanup(response._transport.stopProducing)
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
