# -*- test-case-name: tests.test_history -*-
"""Tests for L{weblog.history} and L{weblog.historian}: the historian process, run for real."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor
import duckdb
from twisted.internet.defer import Deferred, fail, inlineCallbacks, maybeDeferred
from twisted.internet.task import deferLater
from twisted.trial import unittest
from weblog import historian as historian_module
from weblog import settings
from weblog.historian import NICENESS, Historian
from weblog.history import History, QueryFailed
from weblog.question import Question
from weblog.store import Store

from tests.support import awaited, numbered, writing, written

LINES = 2000


def lines(first: int, count: int) -> bytes:
    """C{count} combined lines, numbered from C{first} in their resource (C{/h/N})."""
    return numbered(first, count, "/h/")


class HistorianProcessTests(unittest.TestCase):
    """A History runs the historian, which stores the log; restarted, it stores nothing twice."""

    timeout = 120

    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.base, "var"))
        self.log = os.path.join(self.base, "var", "access.log")
        with open(self.log, "wb") as log:
            log.write(lines(0, LINES))
        env = {key: value for key, value in os.environ.items() if not key.startswith("WEBLOG_")}
        env.update(WEBLOG_LOG=self.log, WEBLOG_STATE=os.path.join(self.base, "var"))
        self.history = History(reactor, env=env, interval=0.2)
        self.addCleanup(self.stopped)

    def stopped(self) -> Deferred[Any]:
        """Stop the history and give its process a moment to go."""
        self.history.stop()
        return deferLater(reactor, 0.5, lambda: None)

    @inlineCallbacks
    def until(self, test: Callable[[dict[str, Any]], bool], seconds: float = 60) -> Any:
        """Wait (a bounded while) until the history's status passes C{test}; return it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.history.status()
            if test(status):
                return status
            yield deferLater(reactor, 0.1, lambda: None)
        self.fail(f"the history never got there: {self.history.status()}")

    @inlineCallbacks
    def test_storesAndSurvivesKill(self) -> Any:
        """The log is stored, at a lower priority than the server's; killed, the historian comes
        back and stores only new lines."""
        self.assertEqual(self.history.status()["state"], "starting")
        self.history.start()
        status = yield self.until(lambda status: status["state"] == "ok"
                                  and status["stored"] == LINES)
        self.assertEqual(status["bytes_done"], os.path.getsize(self.log))
        self.assertEqual(status["oldest"], "2015-05-17T10:05:03+00:00")
        pid = self.history.pid
        assert pid is not None
        self.assertEqual(os.getpriority(os.PRIO_PROCESS, pid),  # it yields to the server
                         min(os.getpriority(os.PRIO_PROCESS, 0) + NICENESS, 19))
        os.kill(pid, signal.SIGKILL)
        yield self.until(lambda status: status["state"] == "starting")
        with open(self.log, "ab") as log:
            log.write(lines(LINES, 10))
        status = yield self.until(lambda status: status["state"] == "ok"
                                  and status["stored"] == LINES + 10)
        self.assertNotEqual(self.history.pid, pid)

    @inlineCallbacks
    def test_queryAnswered(self) -> Any:
        """A view asked over AMP is answered from the store: its total, panels and hits."""
        self.history.start()
        yield self.until(lambda status: status["state"] == "ok" and status["stored"] == LINES)
        selection = {"limit": 5, "status": "200", "referrer": "required", "q": "",
                     "bots": "include", "own": "hide"}
        view = {"question": Question("all", filters=(("resource", "/h/7"),)).to_json(),
                "selection": selection, "given": []}
        answer = yield self.history.query(view)
        self.assertEqual(answer["total"], 1)
        self.assertEqual(answer["top"]["resources"], [["/h/7", 1]])
        long = "\u00e9" * 2048  # a view past AMP's 64 KiB for one value: spread over several
        wide = yield self.history.query({**view, "question": Question("all", filters=tuple(
            (name, long) for name in ("site", "ref", "resource", "client", "vhost", "source"))
        ).to_json()})
        self.assertEqual(wide["total"], 0)
        everything = yield self.history.query({**view, "question": Question("all").to_json()})
        self.assertEqual(everything["total"], LINES)
        self.assertEqual([hit["resource"] for hit in everything["hits"]],
                         [f"/h/{number}" for number in range(LINES - 1, LINES - 6, -1)])

    def test_queryBeforeStart(self) -> Any:
        """Asked before the historian runs, the history says why it cannot answer."""
        failure = self.failureResultOf(self.history.query({}), QueryFailed)
        self.assertEqual(str(failure.value), "the history is starting: the historian is starting")


class HistorianTests(unittest.TestCase):
    """L{Historian} in this process: its writer thread, its states and its retention."""

    def test_retention(self) -> None:
        """Hits more than retain_days before the newest are deleted once stored."""
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log = os.path.join(base, "access.log")
        old = (written("GET /old HTTP/1.1", time="01/May/2015:10:05:03 +0000") + "\n").encode()
        with open(log, "wb") as file:
            file.write(old * 3 + lines(0, 5))
        historian = Historian(os.path.join(base, "history.duckdb"), [log], idle=0.05,
                              retain_days=7)
        writing(self, historian)
        status = awaited(historian, lambda status: status["state"] == "ok", 30)
        self.assertEqual((status["state"], status["stored"], status["oldest"]),
                         ("ok", 5, "2015-05-17T10:05:03+00:00"))

    def test_top(self) -> None:
        """A view's lists hold 10 entries, or as many as it asks (up to 1000: the CSV's); a
        failure of DuckDB's is said in its first line (not its advice for developers)."""
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log = os.path.join(base, "access.log")
        with open(log, "wb") as file:
            file.write(lines(0, 30))
        historian = Historian(os.path.join(base, "history.duckdb"), [log], idle=0.05)
        writing(self, historian)
        awaited(historian, lambda status: status["stored"] == 30, 30)
        view = {"question": Question("all").to_json(), "given": [],
                "selection": {"limit": 5, "status": "all", "referrer": "any", "q": "",
                              "bots": "include", "own": "hide"}}
        for top, listed in ((None, 10), (20, 20), (5000, 30)):
            asked = view if top is None else {**view, "top": top}
            answer = json.loads(self.successResultOf(historian.ask(asked,
                                                                   threads=maybeDeferred)))
            self.assertEqual(len(answer["top"]["resources"]), listed, top)
        out_of_memory = duckdb.OutOfMemoryException(
            "Out of Memory Error: could not allocate block of size 256.0 KiB (91.4 MiB/91.5 MiB "
            "used)\n\nPossible solutions:\n* Reducing the number of threads (SET threads=X)")
        failure = self.failureResultOf(historian.ask(view, threads=lambda run: fail(
            out_of_memory)), QueryFailed)
        self.assertEqual(str(failure.value), "the history could not answer: Out of Memory Error: "
                         "could not allocate block of size 256.0 KiB (91.4 MiB/91.5 MiB used)")

    def test_memory(self) -> None:
        """DuckDB is held to L{settings.BACKFILL_MEMORY} while more than a batch of the logs is
        left to store, and may use the whole setting once the historian has caught up with them
        (to keep what answers read)."""
        limits: list[str | int] = []
        stores: list[Store] = []

        class Recorded(Store):
            def __init__(self, path: str, memory_limit: str = "", *more: Any) -> None:
                limits.append(memory_limit)
                super().__init__(path, memory_limit, *more)
                stores.append(self)

            def limit_memory(self, mib: int) -> None:
                super().limit_memory(mib)
                limits.append(mib)  # once set

        def limit() -> str:
            with stores[0].reading() as reader:
                found = reader.execute("SELECT current_setting('memory_limit')").fetchall()
            return str(found[0][0])

        self.patch(historian_module, "Store", Recorded)
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log = os.path.join(base, "access.log")
        with open(log, "wb") as file:
            file.write(lines(0, 60_000))  # some 9 MB: batches of 1 MB under a 16 MB cap
        historian = Historian(os.path.join(base, "history.duckdb"), [log], idle=0.05,
                              memory_mb=200, max_bytes=16_000_000)
        writing(self, historian)
        during = None
        deadline = time.monotonic() + 60
        while during is None and time.monotonic() < deadline:
            if historian.status()["state"] == "ok":
                break
            if historian.status()["stored"] > 0:
                found = limit()  # more than a batch left after it was read: read while so
                status = historian.status()
                left = status["bytes_total"] - status["bytes_done"]
                during = found if left > historian.keeping.batch_bytes else None
            time.sleep(0.01)
        # raised at the first step that finds nothing more to store: within one idle wait
        status = awaited(historian, lambda status: status["state"] == "ok" and len(limits) > 1)
        self.assertEqual((during, status["stored"], limits, limit()),
                         (f"{settings.BACKFILL_MEMORY}.0 MiB", 60_000,
                          [f"{settings.BACKFILL_MEMORY}MiB", 200], "200.0 MiB"))

    def test_capSaid(self) -> None:
        """The status says the cap on the store's files from the start; null without one."""
        self.assertEqual(Historian("h.duckdb", [], max_bytes=64_000_000).status()["max_bytes"],
                         64_000_000)
        self.assertIsNone(Historian("h.duckdb", []).status()["max_bytes"])

    def test_unwritable(self) -> None:
        """A store it cannot create says so, in one line, and is tried again."""
        historian = Historian("/proc/no/history.duckdb", ["/nonexistent.log"], retry=0.05)
        writing(self, historian)
        status = awaited(historian, lambda status: status["state"] != "starting", 10)
        self.assertEqual(status["state"], "unwritable")
        self.assertIn("/proc/no/history.duckdb", status["reason"])


class CorruptFoundTests(unittest.TestCase):
    """A store that a query finds corrupt is set aside and rebuilt from the logs."""

    def test_setAsideAndRebuilt(self) -> None:
        """The query says why it failed; the state says corrupt, then ok, all stored again."""
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        log, path = os.path.join(base, "access.log"), os.path.join(base, "history.duckdb")
        with open(log, "wb") as file:
            file.write(lines(0, 40_000))

        writers: list[threading.Thread] = []

        def historian() -> Historian:
            made = Historian(path, [log], idle=0.05, retry=0.05)
            writer = threading.Thread(target=made.run)
            writer.start()
            writers.append(writer)
            self.addCleanup(writer.join, 30)
            self.addCleanup(made.stop)
            return made

        def until(made: Historian, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not test(made.status()):
                time.sleep(0.05)
            return made.status()

        first = historian()
        until(first, lambda status: status["state"] == "ok")
        view = {"question": Question("all").to_json(), "given": [],
                "selection": {"limit": 5, "status": "all", "referrer": "any", "q": "",
                              "bots": "include", "own": "hide"}}
        checksum = duckdb.IOException("Corrupt database file: computed checksum 1 does not "
                                      "match stored checksum 2 in block at location 798720")
        failure = self.failureResultOf(first.ask(view, threads=lambda run: fail(checksum)),
                                       QueryFailed)
        self.assertIn("Corrupt database file", str(failure.value))
        until(first, lambda status: status["state"] == "corrupt")
        status = until(first, lambda status: status["state"] == "ok")
        self.assertEqual(status["stored"], 40_000)
        self.assertEqual(len([name for name in os.listdir(base) if ".corrupt-" in name]), 1)
        answer = json.loads(self.successResultOf(first.ask(view, threads=maybeDeferred)))
        self.assertEqual(answer["total"], 40_000)
        first.stop()
        writers[0].join(30)  # the store closed (a checkpoint then would write over the damage)
        self.assertFalse(writers[0].is_alive())
        with open(path, "r+b") as damaged:  # all but the headers overwritten: unreadable
            damaged.seek(12 << 10)
            damaged.write(os.urandom(os.path.getsize(path) - (12 << 10)))
        second = historian()
        status = until(second, lambda status: status["state"] == "ok")
        self.assertEqual(status["stored"], 40_000)
        self.assertEqual(len([name for name in os.listdir(base)
                              if ".corrupt-" in name and not name.endswith(".wal")]), 2)
