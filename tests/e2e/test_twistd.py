# -*- test-case-name: tests.e2e.test_twistd -*-
"""The deployment path: a real `twistd web --path www` process, its own log, stop and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from twisted.trial import unittest

from tests.support import REPO, TwistdServer, free_port


class TwistdTests(unittest.TestCase):
    """A real twistd serving a copy of www/, as `./run.sh` and the article's users run it."""

    def setUp(self) -> None:
        self.server = TwistdServer(self)
        self.base = self.server.base
        self.start = self.server.start
        self.stop = self.server.stop
        self.fetch = self.server.fetch

    def test_followsItsOwnLog(self):
        """Following a link from / makes a referrer hit that /weblog.rpy shows."""
        self.start()
        index = f"http://127.0.0.1:{self.server.port}/"
        self.fetch("/")
        self.fetch("/dynamic.rpy", referrer=index)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            hits = json.loads(self.fetch("/weblog.rpy/json"))["hits"]
            if hits:
                break
            time.sleep(0.2)
        self.assertEqual(
            [(hit["resource"], hit["referrer"], hit["client"]) for hit in hits],
            [("/dynamic.rpy", index, "127.0.0.1")],
        )
        page = self.fetch("/weblog.rpy")
        self.assertIn('<td class="resource">/dynamic.rpy</td>', page)
        self.assertIn("Following <code>var/access.log</code>", page)

    def test_viewCountSurvivesRestart(self):
        """A stopped and restarted twistd shows a higher view count, never a reset one."""
        self.start()
        for expected in (1, 2, 3):
            self.assertIn(f'<span id="views">{expected}</span>', self.fetch("/dynamic.rpy"))
        # After a clean shutdown twistd re-raises the signal, so that its status says why it ended.
        self.assertEqual(self.stop(), -signal.SIGTERM)
        saved = json.loads(self.base.descendant(["var", "counter.json"]).getContent())
        self.assertEqual(saved, {"value": 3})
        self.start()
        self.assertIn('<span id="views">4</span>', self.fetch("/dynamic.rpy"))

    def test_killedServerLosesAtMostTheLastSecond(self):
        """SIGKILL during a burst of views loses at most the views of the last second."""
        self.start()
        served: list[tuple[float, int]] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            page = self.fetch("/dynamic.rpy")
            views = int(page.split('<span id="views">')[1].split("<")[0])
            served.append((time.monotonic(), views))
        assert self.server.process is not None
        self.server.process.kill()
        killed = time.monotonic()
        self.server.process.wait(10)
        last_views = served[-1][1]
        older = [views for at, views in served if at <= killed - 1.0]
        saved = json.loads(self.base.descendant(["var", "counter.json"]).getContent())["value"]
        self.assertLessEqual(saved, last_views)
        self.assertGreaterEqual(saved, older[-1])
        self.start()
        self.assertIn(f'<span id="views">{saved + 1}</span>', self.fetch("/dynamic.rpy"))

    def test_secondServerOnOneStateRefused(self):
        """
        Two servers on one WEBLOG_STATE: the second's dynamic page says views are not counted;
        ./run.sh refuses to start a third, saying which process holds the state; once the
        first stops, the second counts on from the first's count.
        """
        shared = os.path.abspath(self.mktemp())
        os.makedirs(shared)
        first = TwistdServer(self, {"WEBLOG_STATE": shared})
        second = TwistdServer(self, {"WEBLOG_STATE": shared})
        first.start()
        second.start()
        self.assertIn('<span id="views">1</span>', first.fetch("/dynamic.rpy"))
        for _ in range(2):
            page = second.fetch("/dynamic.rpy")
            self.assertIn('<p id="not-counted">Views of this page are not counted', page)
            self.assertNotIn('id="views"', page)
        assert first.process is not None
        reason = (f"WEBLOG_STATE {shared} is in use by another weblog server "
                  f"(pid {first.process.pid}); each server needs its own")
        # run.sh, from a directory of its own (it makes var/ there) that shares the venv
        elsewhere = first.base.child("elsewhere")
        elsewhere.makedirs()
        REPO.child("run.sh").copyTo(elsewhere.child("run.sh"))
        REPO.child(".venv").linkTo(elsewhere.child(".venv"))
        refused = subprocess.run(
            ["bash", elsewhere.child("run.sh").path],
            env={**first.env, "WEBLOG_STATE": shared, "PORT": str(free_port())},
            capture_output=True, timeout=60,
        )
        self.assertEqual((refused.returncode, refused.stderr.decode().splitlines()[-1:]),
                         (2, [f"run.sh: {reason}"]))
        self.assertEqual(first.stop(), -signal.SIGTERM)
        self.assertIn('<span id="views">2</span>', second.fetch("/dynamic.rpy"))
