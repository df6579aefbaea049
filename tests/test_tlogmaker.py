# -*- test-case-name: tests.test_tlogmaker -*-
"""Tests for lib/tlogmaker.py, the refresher inside twistd, and who can read its snapshot."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import logmaker
import tlogmaker
from persist import IRecords
from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial import unittest
from twisted.web import script, server, static
from twisted.web.test.requesthelper import DummyRequest

from tests.support import (
    REPO,
    SiteCase,
    assertNotServed,
    basic,
    combined,
    htpasswd_entry,
    inDirectory,
    setEnvironment,
)


class TlogmakerTests(unittest.TestCase):
    """lib/tlogmaker.py, the refresher inside twistd as a resource script."""

    def setUp(self) -> None:
        self.base = FilePath(self.mktemp())
        self.base.makedirs()
        self.www = self.base.child("www")
        self.www.makedirs()
        self.www.child("index.html").setContent(b"<p>home</p>")
        self.log = self.base.child("access.log")
        self.log.setContent(combined("/first", "http://a.example/").encode())
        patcher = mock.patch.dict(os.environ, {"WEBLOG_LOG": self.log.path})
        patcher.start()
        self.addCleanup(patcher.stop)

    def stopShared(self, registry: static.Registry) -> None:
        """Stop the loop and Records that serve() started."""
        registry.getComponent(tlogmaker.IRefresher).stop()
        registry.getComponent(IRecords).stop()

    def test_startsOnceAndRefreshes(self):
        """serve() starts one loop per registry, writes var/ at once, and again every 5 s."""
        clock = Clock()
        registry = static.Registry()
        self.addCleanup(self.stopShared, registry)
        root = tlogmaker.serve(registry, self.www.path, clock=clock)
        loop = registry.getComponent(tlogmaker.IRefresher)
        snapshot = self.base.descendant(["var", "weblog.html"])
        self.assertEqual(tlogmaker.snapshot_path(self.www.path), snapshot.path)
        self.assertIn(b"/first", snapshot.getContent())
        self.assertEqual([child.basename() for child in self.www.children()], ["index.html"])
        tlogmaker.serve(registry, self.www.path, clock=clock)
        self.assertIs(registry.getComponent(tlogmaker.IRefresher), loop)
        self.assertIs(root.registry, registry)
        with open(self.log.path, "a") as log:
            log.write(combined("/second", "http://b.example/"))
        clock.advance(1)  # Records reads the new line
        self.assertNotIn(b"/second", snapshot.getContent())
        clock.advance(4)  # the refresher's 5 s
        self.assertIn(b"/second", snapshot.getContent())

    def test_resourceScriptRunsOncePerRequestButStartsOnce(self):
        """Executed by twistd on every request, the script starts the refresher only once."""
        # A copy beside the test's www/, so the snapshot is not written into the repo's var/.
        copy = self.base.descendant(["lib", "tlogmaker.py"])
        copy.parent().makedirs()
        REPO.descendant(["lib", "tlogmaker.py"]).copyTo(copy)
        path = copy.path
        wrapper = script.ResourceScriptWrapper(path)
        self.addCleanup(self.stopShared, wrapper.registry)
        first = script.ResourceScript(path, wrapper.registry)
        loop = wrapper.registry.getComponent(tlogmaker.IRefresher)
        self.assertTrue(loop.running)
        second = script.ResourceScript(path, wrapper.registry)
        self.assertIsNot(first, second)
        self.assertIs(wrapper.registry.getComponent(tlogmaker.IRefresher), loop)
        self.assertIsInstance(second, static.File)
        self.assertEqual(second.path, self.www.path)
        self.assertIn(b"/first", self.base.descendant(["var", "weblog.html"]).getContent())
        self.assertFalse(self.www.child("weblog.html").exists())
        self.assertIn(".rpy", second.processors)
        # the wrapper, as twistd's root, answers a request with the served www/
        request = DummyRequest([b""])
        self.assertIsInstance(wrapper.getChildWithDefault(b"index.html", request), static.File)


class SnapshotAccessTests(SiteCase):
    """Who can read the snapshot over HTTP, under tlogmaker.py and under a plain twistd web."""

    def setUp(self) -> None:
        super().setUp()
        for stale in self.www.globChildren("weblog.html*"):  # left in www/ by an older logmaker
            stale.remove()
        self.writeLog(combined("/secret", "http://referrer.example/"))
        self.htpasswd = self.base.child("htpasswd")
        self.htpasswd.setContent(htpasswd_entry("alice", "s3cret pass"))

    def serveTlogmaker(self) -> None:
        """Serve the www copy as `twistd web --resource-script lib/tlogmaker.py` does."""
        registry = static.Registry()
        root = tlogmaker.serve(registry, self.www.path)
        self.addCleanup(registry.getComponent(tlogmaker.IRefresher).stop)
        site: Any = server.Site(root)  # Twisted's hints do not see Site as a ServerFactory
        self.root, self.port = root, reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(self.stopServing)

    @defer.inlineCallbacks
    def assertSnapshotShown(self, headers: dict[bytes, list[bytes]] | None = None):
        """GET /weblog.html (with C{headers}) is a 200 HTML page that shows the log's referrer."""
        code, response, body = yield self.get("/weblog.html", headers)
        self.assertEqual(code, 200)
        self.assertEqual(response.getRawHeaders(b"content-type"), [b"text/html"])
        self.assertIn(b"http://referrer.example/", body)

    @defer.inlineCallbacks
    def test_tlogmakerAsksForCredentials(self):
        """With WEBLOG_HTPASSWD set, /weblog.html answers 401 without the password, 200 with it."""
        setEnvironment(self, WEBLOG_HTPASSWD=self.htpasswd.path)
        self.serveTlogmaker()
        for headers in ({}, basic("alice", "wrong"), basic("mallory", "s3cret pass")):
            code, response, body = yield self.get("/weblog.html", headers)
            self.assertEqual(code, 401, headers)
            self.assertEqual(response.getRawHeaders(b"www-authenticate"),
                             [b'basic realm="weblog"'])
            self.assertNotIn(b"referrer.example", body)
        yield self.assertSnapshotShown(basic("alice", "s3cret pass"))
        code, _, _ = yield self.get("/")  # the index stays open, as under twistd web --path
        self.assertEqual(code, 200)

    @defer.inlineCallbacks
    def test_tlogmakerOpenWithoutPassword(self):
        """Without WEBLOG_HTPASSWD, /weblog.html is the snapshot for anyone."""
        setEnvironment(self, WEBLOG_HTPASSWD=None)
        self.serveTlogmaker()
        yield self.assertSnapshotShown()

    @defer.inlineCallbacks
    def test_plainTwistdServesNoDefaultSnapshot(self):
        """What either refresher writes by default is outside www/: twistd web --path gives 404."""
        setEnvironment(self, WEBLOG_HTPASSWD=self.htpasswd.path)
        snapshot = self.base.descendant(["var", "weblog.html"])
        inDirectory(self, self.base)  # logmaker's defaults are relative to it, as in the repo
        self.assertEqual(logmaker.main(["--once"]), 0)
        self.assertIn(b"http://referrer.example/", snapshot.getContent())
        snapshot.remove()
        registry = static.Registry()
        tlogmaker.serve(registry, self.www.path)
        registry.getComponent(tlogmaker.IRefresher).stop()
        registry.getComponent(IRecords).stop()
        self.assertIn(b"http://referrer.example/", snapshot.getContent())
        self.assertEqual(self.www.globChildren("weblog.html*"), [])
        self.serve()
        yield assertNotServed(self, ["/weblog.html", "/var/weblog.html", "/../var/weblog.html"],
                              b"referrer.example")
