# -*- test-case-name: tests.test_logmaker -*-
"""The article's two refreshers: logmaker.py (standalone) and tlogmaker.py (inside twistd)."""

from __future__ import annotations

import base64
import io
import os
from contextlib import redirect_stderr, redirect_stdout
from typing import Any
from unittest import mock

import bcrypt
import logmaker
import tlogmaker
from persist import IRecords
from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial import unittest
from twisted.web import script, server, static
from twisted.web.test.requesthelper import DummyRequest

from tests.support import REPO, SiteCase, combined, setEnvironment

XSS = '"><script>alert(1)</script>'


def htpasswd_entry(user: str, password: str) -> bytes:
    """An htpasswd line as `htpasswd -B` writes it, with bcrypt's cheapest cost."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).replace(b"$2b$", b"$2y$", 1)
    return user.encode() + b":" + hashed + b"\n"


def basic(user: str, password: str) -> dict[bytes, list[bytes]]:
    """An Authorization header with Basic credentials."""
    return {b"authorization": [b"Basic " + base64.b64encode(f"{user}:{password}".encode())]}


def inDirectory(testCase: unittest.TestCase, directory: FilePath) -> None:
    """Make C{directory} the working directory until C{testCase} cleans up."""
    testCase.addCleanup(os.chdir, os.getcwd())
    os.chdir(directory.path)


class LogmakerTests(unittest.TestCase):
    """lib/logmaker.py, the standalone refresher."""

    def setUp(self) -> None:
        self.base = FilePath(self.mktemp())
        self.base.makedirs()
        self.log = self.base.child("access.log")
        self.out = self.base.child("weblog.html")

    def test_onceWritesSnapshot(self):
        """--once writes the referrer hits, newest first and escaped, leaving no temp file."""
        self.log.setContent(
            (combined("/old", "http://a.example/") + combined("/plain", "-")
             + combined(f"/new{XSS}", f"http://b.example/{XSS}")).encode()
        )
        status = logmaker.main(["--log", self.log.path, "--out", self.out.path, "--once"])
        self.assertEqual(status, 0)
        page = self.out.getContent().decode()
        self.assertLess(page.index("/new"), page.index("/old"))
        self.assertNotIn("/plain", page)
        self.assertNotIn("<script>", page)
        self.assertIn("http://b.example/&quot;&gt;&lt;script&gt;", page)
        self.assertEqual(sorted(child.basename() for child in self.base.children()),
                         ["access.log", "weblog.html"])

    def test_limit(self):
        """--limit bounds the rows of the page."""
        self.log.setContent("".join(combined(f"/p{n}") for n in range(10)).encode())
        logmaker.main(["--log", self.log.path, "--out", self.out.path, "--once", "--limit", "3"])
        self.assertEqual(self.out.getContent().count(b"<tr style"), 3)

    def test_missingLogSaysSo(self):
        """A missing log writes an empty page and says what it waits for on stderr."""
        errors = io.StringIO()
        with redirect_stderr(errors):
            status = logmaker.main(["--log", self.log.path, "--out", self.out.path, "--once"])
        self.assertEqual(status, 0)
        self.assertEqual(
            errors.getvalue(), f"logmaker.py: waiting for {self.log.path}: not found\n"
        )
        self.assertEqual(self.out.getContent().count(b"<tr style"), 0)

    def test_help(self):
        """--help explains the options and exits 0."""
        output = io.StringIO()
        with redirect_stdout(output), self.assertRaises(SystemExit) as exited:
            logmaker.main(["--help"])
        self.assertEqual(exited.exception.code, 0)
        for option in ("--log", "--out", "--interval", "--limit", "--once"):
            self.assertIn(option, output.getvalue())

    def test_badOptions(self):
        """A bad --limit, --interval or --out directory is a usage error naming the option."""
        for argv, word in [(["--limit", "0"], "--limit"), (["--interval", "0"], "--interval"),
                           (["--out", "/nonexistent/dir/x.html"], "--out")]:
            errors = io.StringIO()
            with redirect_stderr(errors), self.assertRaises(SystemExit) as exited:
                logmaker.main(argv)
            self.assertEqual(exited.exception.code, 2)
            self.assertIn(word, errors.getvalue().splitlines()[-1])

    def test_writeAtomically(self):
        """write_atomically replaces the file whole and leaves no temporary file."""
        self.out.setContent(b"old")
        logmaker.write_atomically(self.out.path, "new page")
        self.assertEqual(self.out.getContent(), b"new page")
        self.assertEqual(sorted(child.basename() for child in self.base.children()
                                if child.basename().startswith("weblog.html")), ["weblog.html"])

    def test_writeAtomicallyNotThroughLink(self):
        """A link planted at the old temporary name is neither followed nor used."""
        target = self.base.child("passwd-copy")
        target.setContent(b"root:x:0:0\n")
        os.symlink(target.path, self.base.child("weblog.html.tmp").path)
        os.symlink(target.path, self.base.child(f"weblog.html.tmp-{os.getpid()}-0").path)
        logmaker.write_atomically(self.out.path, "new page")
        self.assertEqual(self.out.getContent(), b"new page")
        self.assertEqual(target.getContent(), b"root:x:0:0\n")
        self.assertFalse(self.out.islink())

    def test_defaultOutIsVar(self):
        """Without --out the page is var/weblog.html under the working directory, var/ made."""
        self.log.setContent(combined("/hit", "http://a.example/").encode())
        inDirectory(self, self.base)
        self.assertEqual(logmaker.main(["--log", self.log.path, "--once"]), 0)
        self.assertIn(b"/hit", self.base.descendant(["var", "weblog.html"]).getContent())
        self.assertFalse(self.out.exists())

    def test_servedOutRefusedWithPassword(self):
        """With WEBLOG_HTPASSWD set, --out in or below a directory holding weblog.rpy is refused."""
        www = self.base.child("www")
        www.child("snap").makedirs()
        www.child("weblog.rpy").setContent(b"")
        self.log.setContent(combined("/hit", "http://a.example/").encode())
        setEnvironment(self, WEBLOG_HTPASSWD=self.base.child("htpasswd").path)
        for out in (www.child("weblog.html"), www.descendant(["snap", "weblog.html"])):
            errors = io.StringIO()
            with redirect_stderr(errors), self.assertRaises(SystemExit) as exited:
                logmaker.main(["--log", self.log.path, "--out", out.path, "--once"])
            self.assertEqual(exited.exception.code, 2)
            last = errors.getvalue().splitlines()[-1]
            self.assertTrue(last.startswith(
                f"logmaker.py: error: --out: {www.realpath().path} is served by weblog"), last)
            self.assertIn("WEBLOG_HTPASSWD is set", last)
            self.assertFalse(out.exists())

    def test_servedOutAllowedWithoutPassword(self):
        """Without WEBLOG_HTPASSWD everything is open, so --out may be www/ as in the article."""
        www = self.base.child("www")
        www.makedirs()
        www.child("weblog.rpy").setContent(b"")
        self.log.setContent(combined("/hit", "http://a.example/").encode())
        setEnvironment(self, WEBLOG_HTPASSWD=None)
        out = www.child("weblog.html")
        self.assertEqual(logmaker.main(["--log", self.log.path, "--out", out.path, "--once"]), 0)
        self.assertIn(b"/hit", out.getContent())


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
        code, response, body = yield self.get("/weblog.html", basic("alice", "s3cret pass"))
        self.assertEqual(code, 200)
        self.assertEqual(response.getRawHeaders(b"content-type"), [b"text/html"])
        self.assertIn(b"http://referrer.example/", body)
        code, _, _ = yield self.get("/")  # the index stays open, as under twistd web --path
        self.assertEqual(code, 200)

    @defer.inlineCallbacks
    def test_tlogmakerOpenWithoutPassword(self):
        """Without WEBLOG_HTPASSWD, /weblog.html is the snapshot for anyone."""
        setEnvironment(self, WEBLOG_HTPASSWD=None)
        self.serveTlogmaker()
        code, _, body = yield self.get("/weblog.html")
        self.assertEqual(code, 200)
        self.assertIn(b"http://referrer.example/", body)

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
        for path in ("/weblog.html", "/var/weblog.html", "/../var/weblog.html"):
            code, _, body = yield self.get(path)
            self.assertEqual(code, 404, path)
            self.assertNotIn(b"referrer.example", body)
