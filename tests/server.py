# -*- test-case-name: tests.e2e.test_twistd,tests.e2e.test_abuse -*-
"""A real `twistd web --path www` on 127.0.0.1, for the end-to-end tests and bench/."""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twisted.python.filepath import FilePath
from twisted.trial import unittest

from tests.procfs import cpu_seconds, rss_kib

REPO = Path(__file__).resolve().parent.parent
TWISTD = str(Path(sys.executable).parent / "twistd")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raise_nofile(limit: int) -> None:
    """Raise this process's open-file limit to C{limit} (the hard one too, where allowed)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < limit:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            return
        except (ValueError, OSError):
            limit = hard
    if soft < limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


class TwistdServer:
    """
    A real `twistd web --path` on a free port of 127.0.0.1, run in a directory of its own.

    The directory (C{base}, a L{FilePath}) holds C{www/}, a copy of the repo's (unless
    another is given), C{var/}, where the server's access log and state go by default,
    and C{twistd.log}, what twistd printed. The server sees this process's environment
    without C{PYTHONPATH} and any C{WEBLOG_*} setting, plus C{env}.
    """

    def __init__(self, base: str | Path | unittest.TestCase,
                 env: Mapping[str, str] | None = None, *, www: Path | None = None,
                 nofile: int | None = None) -> None:
        """
        Prepare the directory; L{start} (or C{with}) starts the server.

        @param base: the directory, or a test: then a fresh one from its C{mktemp()},
            and the server is killed, if still running, when the test cleans up.
        @param www: the directory to serve instead of a copy of the repo's www/.
        @param nofile: the server's open-file limit, if it must be raised.
        """
        if isinstance(base, unittest.TestCase):
            base.addCleanup(self.kill)
            where: str | Path = base.mktemp()
        else:
            where = base
        self.base = FilePath(os.path.abspath(where))
        self.base.child("var").makedirs(ignoreExistingDirectory=True)
        if www is None:
            shutil.copytree(REPO / "www", self.base.child("www").path, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("weblog.html*"))
        self.www = str(www) if www is not None else "www"
        self.env = {key: value for key, value in os.environ.items()
                    if key != "PYTHONPATH" and not key.startswith("WEBLOG_")}
        self.env.update(env or {})
        self.nofile = nofile
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.started = 0.0

    def launch(self) -> float:
        """Start twistd, without waiting; return the monotonic time just before it was made."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("twistd is already running")
        self.port = free_port()
        nofile = self.nofile
        command = [TWISTD, "--nodaemon", "--pidfile=", "web", "--path", self.www,
                   "--listen", f"tcp:{self.port}:interface=127.0.0.1",
                   "--logfile", "var/access.log"]
        with open(self.base.child("twistd.log").path, "ab") as output:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                command, cwd=self.base.path, env=self.env, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT,
                preexec_fn=(lambda: raise_nofile(nofile)) if nofile else None,
            )
        return self.started

    def wait_listening(self, timeout: float = 30.0) -> None:
        """Wait until the port accepts connections; fail if twistd exits or takes too long."""
        assert self.process is not None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"twistd exited with {self.process.returncode}: {self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"twistd did not listen within {timeout:.0f} s: {self.tail()}")

    def start(self, timeout: float = 30.0) -> None:
        """Start twistd and wait until it listens; stop it again if it does not."""
        self.launch()
        try:
            self.wait_listening(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM, as Ctrl-C or a service manager sends; SIGKILL after C{grace} s; the status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL twistd now, if it runs: so that none outlives its test or benchmark."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> TwistdServer:
        """Start, and wait until it listens."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()

    @property
    def pid(self) -> int:
        """The twistd process id, for its /proc figures."""
        assert self.process is not None
        return self.process.pid

    def rss_kib(self) -> int:
        """The server's resident memory now, in KiB."""
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        """The server's user and system CPU time so far."""
        return cpu_seconds(self.pid)

    def tail(self, size: int = 600) -> str:
        """The end of what twistd printed, for error messages."""
        try:
            data = self.base.child("twistd.log").getContent()
        except OSError:
            return ""
        return data[-size:].decode("utf-8", "replace")

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: Mapping[str, str] | None = None,
            timeout: float = 60.0) -> tuple[int, bytes]:
        """GET a path (no redirect followed, no proxy asked); the status and the whole body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def fetch(self, path: str, referrer: str | None = None, timeout: float = 10.0) -> str:
        """GET a page that must answer 200; its text."""
        status, body = self.get(path, {"Referer": referrer} if referrer else None, timeout)
        if status != 200:
            raise RuntimeError(f"GET {path}: status {status}: {body[:200]!r}")
        return body.decode("utf-8")

    def get_json(self, path: str, timeout: float = 60.0) -> Any:
        """GET a JSON page that must answer 200; its decoded body."""
        return json.loads(self.fetch(path, timeout=timeout))
