# -*- test-case-name: tests.test_logmaker -*-
"""Tests for lib/logmaker.py, the article's standalone refresher of the snapshot page."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout

import logmaker
from twisted.python.filepath import FilePath
from twisted.trial import unittest

from tests.support import XSS, combined, inDirectory, setEnvironment



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
