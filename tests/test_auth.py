# -*- test-case-name: tests.test_auth -*-
"""Optional HTTP Basic authentication for the weblog pages, from an htpasswd file."""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, cast
from unittest import mock

import bcrypt
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.trial import unittest

from auth import (
    HtpasswdChecker,
    HtpasswdError,
    bcrypt_cost,
    dummy_hash,
    protect,
    read_htpasswd,
)
from persist import config_problem
from tests.support import SiteCase, combined
from throttle import CheckPool, Refused, Throttle

HTPASSWD = shutil.which("htpasswd")
# 80 bytes, as htpasswd -B accepts them; bcrypt reads only the first 72.
LONG = "".join(chr(ord("a") + i % 26) for i in range(80))


def htpasswd_entry(user: str, password: str | bytes, cost: int = 4) -> bytes:
    """An entry as `htpasswd -B` writes it ($2y$), with a cheap cost for tests."""
    secret = password.encode() if isinstance(password, str) else password
    hashed = bcrypt.hashpw(secret[:72], bcrypt.gensalt(cost)).replace(b"$2b$", b"$2y$", 1)
    return user.encode() + b":" + hashed + b"\n"


def basic(user: str, password: str) -> dict[bytes, list[bytes]]:
    """An Authorization header for Basic credentials."""
    token = base64.b64encode(f"{user}:{password}".encode())
    return {b"authorization": [b"Basic " + token]}


def count_checks(test: unittest.TestCase) -> list[bytes]:
    """Record each bcrypt.checkpw call (from any thread) until C{test} ends; return the list."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real(password, hashed)

    test.patch(bcrypt, "checkpw", counting)
    return calls


class Runs:
    """A Throttle C{run} that holds every check until the test finishes it."""

    def __init__(self) -> None:
        self.held: list[tuple[Callable[[], bool], defer.Deferred[bool]]] = []

    def __call__(self, function: Callable[[], bool]) -> defer.Deferred[bool]:
        held: defer.Deferred[bool] = defer.Deferred()
        self.held.append((function, held))
        return held

    def finish(self, index: int = 0) -> None:
        """Run a held check (here, at once) and pass its result on."""
        function, held = self.held.pop(index)
        held.callback(function())

    def fail(self, error: Exception) -> None:
        """Fail the first held check with C{error}."""
        self.held.pop(0)[1].errback(error)


@defer.inlineCallbacks
def seconds_to_reject(checker: HtpasswdChecker, user: bytes, password: bytes):
    """How long C{checker} takes to refuse a user and password."""
    start = time.perf_counter()
    try:
        yield checker.requestAvatarId(UsernamePassword(user, password))
    except UnauthorizedLogin:
        return time.perf_counter() - start
    raise AssertionError(f"{user!r} {password!r} accepted")


def milliseconds(values: list[float]) -> str:
    """Timings, for a failure message."""
    return " ".join(f"{value * 1000:.2f}" for value in sorted(values)) + " ms"


class DummyHashTests(unittest.TestCase):
    """dummy_hash and bcrypt_cost: what unknown users are checked against."""

    def test_costOfTheFile(self):
        """The dummy has the cost most entries have, is a valid hash and matches nothing."""
        entries = {b"a": b"$2y$04$" + b"a" * 53, b"b": b"$2y$06$" + b"b" * 53,
                   b"c": b"$2b$06$" + b"c" * 53}
        dummy = dummy_hash(entries)
        self.assertEqual((len(dummy), bcrypt_cost(dummy)), (60, 6))
        self.assertFalse(bcrypt.checkpw(b"", dummy))  # a malformed hash would raise ValueError
        self.assertNotEqual(dummy_hash(entries), dummy)  # a fresh salt each time

    def test_defaultCost(self):
        """Without entries (or costs) the dummy has htpasswd -B's default cost, 5."""
        self.assertEqual(bcrypt_cost(dummy_hash({})), 5)
        self.assertEqual(bcrypt_cost(dummy_hash({b"a": b"$2y$xx$"})), 5)

    def test_bcryptCost(self):
        """The cost is read from the hash's second field; anything else has none."""
        self.assertEqual(bcrypt_cost(b"$2y$12$" + b"a" * 53), 12)
        for hashed in (b"$2y$1$", b"$2y$ab$x", b"$2y$03$x", b"$2y$32$x", b""):
            self.assertIsNone(bcrypt_cost(hashed), hashed)


class ReadHtpasswdTests(unittest.TestCase):
    """read_htpasswd: bcrypt entries only, clear errors otherwise."""

    def setUp(self) -> None:
        self.path = self.mktemp()

    def test_bcryptEntries(self):
        """$2y$ and $2b$ entries are read; comments, blank lines and other kinds are left out."""
        with open(self.path, "wb") as file:
            file.write(b"# users\n\n" + htpasswd_entry("alice", "a")
                       + b"bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
                       + b"carol:$apr1$abc$defghijklmnopqrstuv.\n"
                       + htpasswd_entry("dave", "d").replace(b"$2y$", b"$2b$"))
        self.assertEqual(sorted(read_htpasswd(self.path)), [b"alice", b"dave"])

    def test_noBcryptEntry(self):
        """A file without a bcrypt entry is an error that says how to write one."""
        with open(self.path, "wb") as file:
            file.write(b"bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
        error = self.assertRaises(HtpasswdError, read_htpasswd, self.path)
        self.assertEqual(
            str(error), f"WEBLOG_HTPASSWD {self.path}: no bcrypt entry (write it with htpasswd -B)"
        )

    def test_missingFile(self):
        """A missing file is an error naming it and why."""
        error = self.assertRaises(HtpasswdError, read_htpasswd, self.path)
        self.assertEqual(str(error), f"WEBLOG_HTPASSWD {self.path}: No such file or directory")

    def test_configProblem(self):
        """run.sh's check reports a bad WEBLOG_HTPASSWD in one line, and nothing for a good one."""
        with mock.patch.dict(os.environ, {"WEBLOG_HTPASSWD": self.path}):
            self.assertEqual(config_problem(),
                             f"WEBLOG_HTPASSWD {self.path}: No such file or directory")
            with open(self.path, "wb") as file:
                file.write(htpasswd_entry("alice", "a"))
            self.assertEqual(config_problem(), "")

    def test_noFileNoGuard(self):
        """Without WEBLOG_HTPASSWD the page is served as it is."""
        page = object()
        with mock.patch.dict(os.environ, {"WEBLOG_HTPASSWD": ""}):
            self.assertIs(protect(page), page)  # type: ignore[arg-type]


class HtpasswdCheckerTests(unittest.TestCase):
    """HtpasswdChecker: equal timing for unknown users, the 72-byte rule."""

    def setUp(self) -> None:
        self.path = self.mktemp()

    def write(self, *entries: bytes) -> None:
        """Write the htpasswd file."""
        with open(self.path, "wb") as file:
            file.write(b"".join(entries))

    @defer.inlineCallbacks
    def accepts(self, checker: HtpasswdChecker, user: bytes, password: bytes):
        """Whether C{checker} lets C{user} in with C{password}."""
        try:
            yield checker.requestAvatarId(UsernamePassword(user, password))
        except UnauthorizedLogin:
            return False
        return True

    @defer.inlineCallbacks
    def test_unknownUserTakesAsLong(self):
        """Refusing an unknown user takes as long as a known user's wrong password (cost 7)."""
        self.write(htpasswd_entry("alice", "right", cost=7))
        checker = HtpasswdChecker(self.path)
        unknown: list[float] = []
        known: list[float] = []
        for attempt in range(7):
            unknown.append((yield seconds_to_reject(checker, b"mallory", b"guess %d" % attempt)))
            known.append((yield seconds_to_reject(checker, b"alice", b"guess %d" % attempt)))
        ratio = statistics.median(unknown) / statistics.median(known)
        self.assertTrue(0.5 <= ratio <= 2.0, f"unknown user {milliseconds(unknown)}, "
                        f"known user's wrong password {milliseconds(known)}")

    @defer.inlineCallbacks
    def test_longPasswordFirst72Bytes(self):
        """An 80-byte password logs in; only its first 72 bytes count, as for Apache."""
        self.write(htpasswd_entry("alice", LONG))
        checker = HtpasswdChecker(self.path)
        for password, expected in ((LONG, True), (LONG[:72], True), (LONG[:72] + "other", True),
                                   (LONG[:71], False), ("A" + LONG[1:], False)):
            accepted = yield self.accepts(checker, b"alice", password.encode())
            self.assertEqual(accepted, expected, f"{len(password)} bytes: {password}")

    @defer.inlineCallbacks
    def test_agreesWithHtpasswd(self):
        """For entries htpasswd -B wrote, the checker accepts what htpasswd -vb accepts."""
        if HTPASSWD is None:
            raise unittest.SkipTest("no htpasswd binary (Debian: apt-get install apache2-utils); "
                                    "test_longPasswordFirst72Bytes covers the rule without it")
        accents = "é" * 40  # 80 bytes in UTF-8
        for user, password in (("alice", LONG), ("bob", accents)):
            subprocess.run([HTPASSWD, "-B", "-C", "4", "-b"] + (["-c"] * (user == "alice"))
                           + [self.path, user, password], check=True, capture_output=True)
        checker = HtpasswdChecker(self.path)
        candidates = [("alice", LONG), ("alice", LONG[:72]), ("alice", LONG[:72] + "zzz"),
                      ("alice", LONG[:71]), ("alice", LONG + "more"), ("bob", accents),
                      ("bob", "é" * 36), ("bob", "é" * 36 + "x"), ("bob", "é" * 35)]
        theirs = {}
        disagree = []
        for user, password in candidates:
            verify = subprocess.run([HTPASSWD, "-vb", self.path, user, password],
                                    capture_output=True)
            theirs[user, password] = verify.returncode == 0
            ours = yield self.accepts(checker, user.encode(), password.encode())
            if ours != theirs[user, password]:
                disagree.append(f"{user} {len(password.encode())} bytes: htpasswd says "
                                f"{theirs[user, password]}, weblog {ours}")
        self.assertTrue(theirs["alice", LONG] and theirs["bob", accents])
        self.assertEqual(disagree, [])


class RefusedTests(unittest.TestCase):
    """Refused: the answer for a check that was not run."""

    def test_message(self):
        """The delay is rounded up to whole seconds (at least 1) and ends the message."""
        refused = Refused(429, 49.2, "Too many wrong passwords from your address")
        self.assertEqual((refused.code, refused.retry_after), (429, 50))
        self.assertEqual(str(refused),
                         "Too many wrong passwords from your address; try again in 50 s")
        self.assertEqual(Refused(503, 0.01, "Busy").retry_after, 1)


class ThrottleTests(unittest.TestCase):
    """Throttle: the bounds on checks overall and per client address."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.runs = Runs()
        self.throttle = Throttle(self.clock, run=self.runs, pending=3, failures=5, window=60,
                                 clients=3)

    def attempt(self, client: str | None, good: bool = False) -> defer.Deferred[bool]:
        """Ask for a check that will say C{good}."""
        return self.throttle.check(client, lambda: good)

    def refusal(self, client: str | None) -> Refused:
        """The refusal of a check asked for now."""
        refused = self.failureResultOf(self.attempt(client), Refused).value
        assert isinstance(refused, Refused)
        return refused

    def failChecks(self, client: str, times: int) -> None:
        """Let C{client} fail C{times} checks, one after the other."""
        for _ in range(times):
            result = self.attempt(client)
            self.runs.finish()
            self.assertFalse(self.successResultOf(result))

    def test_oneAtATimePerClient(self):
        """A client's second check while its first runs is refused with 429 for 1 s."""
        first = self.attempt("192.0.2.1")
        refused = self.refusal("192.0.2.1")
        self.assertEqual((refused.code, refused.retry_after), (429, 1))
        self.attempt("192.0.2.2")
        self.assertEqual((len(self.runs.held), self.throttle.pending), (2, 2))
        self.runs.finish()
        self.assertFalse(self.successResultOf(first))
        self.attempt("192.0.2.1")
        self.assertEqual(len(self.runs.held), 2)

    def test_pendingBound(self):
        """Beyond C{pending} checks running or queued, any client is refused with 503."""
        for client in ("192.0.2.1", "192.0.2.2", None):
            self.attempt(client)
        for client in ("192.0.2.3", None):
            refused = self.refusal(client)
            self.assertEqual((refused.code, refused.retry_after), (503, 1))
        self.runs.finish()
        self.attempt("192.0.2.3")
        self.assertEqual((len(self.runs.held), self.throttle.pending), (3, 3))

    def test_failuresPerWindow(self):
        """After 5 failures within 60 s a client waits, with 429, until the oldest is 60 s old."""
        for _ in range(5):
            self.failChecks("192.0.2.1", 1)
            self.clock.advance(10)
        self.clock.advance(-5)  # failures at 0, 10, 20, 30, 40; now 45
        refused = self.refusal("192.0.2.1")
        self.assertEqual((refused.code, refused.retry_after), (429, 15))
        self.assertIn("wrong passwords", str(refused))
        self.assertEqual(self.runs.held, [])
        self.attempt("192.0.2.2")  # others are not held back
        self.runs.finish()
        self.clock.advance(15)
        self.failChecks("192.0.2.1", 1)  # the failure at 0 has left the window
        self.clock.advance(1)
        self.assertEqual(self.refusal("192.0.2.1").retry_after, 9)  # until the one at 10 leaves

    def test_successClearsFailures(self):
        """A right password clears its client's failures."""
        self.failChecks("192.0.2.1", 4)
        result = self.attempt("192.0.2.1", good=True)
        self.runs.finish()
        self.assertTrue(self.successResultOf(result))
        self.failChecks("192.0.2.1", 5)
        self.assertEqual(self.refusal("192.0.2.1").code, 429)

    def test_noClientNoClientLimits(self):
        """Checks without a client address are bound only by C{pending}."""
        for _ in range(3):
            self.attempt(None)
        self.assertEqual(self.refusal(None).code, 503)
        for _ in range(3):
            self.runs.finish()
        for _ in range(10):
            self.attempt(None)
            self.runs.finish()
        self.assertEqual(self.throttle.pending, 0)

    def test_clientsBounded(self):
        """Only the C{clients} most recently seen addresses are remembered, failures and all."""
        self.failChecks("192.0.2.1", 5)
        self.failChecks("192.0.2.2", 1)
        self.assertEqual(self.refusal("192.0.2.1").code, 429)  # seen again: now the latest
        self.failChecks("192.0.2.3", 1)
        self.failChecks("192.0.2.4", 1)  # 192.0.2.2 is forgotten
        self.assertEqual(self.refusal("192.0.2.1").code, 429)
        self.failChecks("192.0.2.5", 1)
        self.failChecks("192.0.2.6", 1)
        self.failChecks("192.0.2.7", 1)  # and now 192.0.2.1
        self.attempt("192.0.2.1")
        self.assertEqual(len(self.runs.held), 1)

    def test_clockWentBack(self):
        """Failures that seem to come from the future do not hold a client back."""
        self.clock.advance(1000)
        self.failChecks("192.0.2.1", 5)
        self.clock.advance(-500)
        self.attempt("192.0.2.1")
        self.assertEqual(len(self.runs.held), 1)

    def test_brokenCheck(self):
        """A check that fails (not a wrong password) frees its place and counts as a failure."""
        result = self.attempt("192.0.2.1")
        self.runs.fail(RuntimeError("broken"))
        self.failureResultOf(result, RuntimeError)
        self.assertEqual(self.throttle.pending, 0)
        self.failChecks("192.0.2.1", 4)
        self.assertEqual(self.refusal("192.0.2.1").code, 429)


class ShutdownTriggers:
    """The real reactor, except that it keeps the system event triggers added to it."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str, Callable[[], None]]] = []

    def addSystemEventTrigger(self, phase: str, event: str, function: Callable[[], None]) -> Any:
        self.added.append((phase, event, function))
        return self.added[-1]

    def removeSystemEventTrigger(self, trigger: Any) -> None:
        self.added.remove(trigger)

    def callFromThread(self, function: Callable[..., None], *args: Any) -> None:
        cast(Any, reactor).callFromThread(function, *args)


class CheckPoolTests(unittest.TestCase):
    """CheckPool: checks run in a few threads of their own."""

    def setUp(self) -> None:
        self.pool = CheckPool(threads=2)
        self.addCleanup(self.pool.stop)

    @defer.inlineCallbacks
    def test_atMostThreadsAtOnce(self):
        """Checks run away from the reactor thread, two at a time at most."""
        lock = threading.Lock()
        running: list[int] = []
        most: list[int] = [0]

        def check() -> bool:
            with lock:
                running.append(1)
                most[0] = max(most[0], len(running))
            time.sleep(0.02)
            with lock:
                running.pop()
            return threading.current_thread() is not threading.main_thread()

        results = yield defer.gatherResults([self.pool(check) for _ in range(6)])
        self.assertEqual((results, most[0]), ([True] * 6, 2))

    @defer.inlineCallbacks
    def test_stoppedThenUsedAgain(self):
        """A check after stop() starts the threads again."""
        self.assertTrue((yield self.pool(lambda: True)))
        self.pool.stop()
        self.assertFalse((yield self.pool(lambda: False)))

    @defer.inlineCallbacks
    def test_stoppedAtShutdown(self):
        """The pool asks to be stopped during reactor shutdown, once; stop() withdraws that."""
        triggers = ShutdownTriggers()
        pool = CheckPool(triggers, threads=1)
        self.addCleanup(pool.stop)
        for _ in range(2):
            self.assertTrue((yield pool(lambda: True)))
        self.assertEqual(len(triggers.added), 1)
        phase, event, shutdown = triggers.added.pop()
        self.assertEqual((phase, event), ("during", "shutdown"))
        shutdown()
        self.assertTrue((yield pool(lambda: True)))  # started again, with a new trigger
        self.assertEqual(len(triggers.added), 1)
        pool.stop()
        self.assertEqual(triggers.added, [])


class GuardedSiteTests(SiteCase):
    """The weblog pages behind Basic authentication, over HTTP from a real Site."""

    def setUp(self) -> None:
        super().setUp()
        self.htpasswd = self.base.child("htpasswd")
        self.htpasswd.setContent(htpasswd_entry("alice", "s3cret pass"))
        patcher = mock.patch.dict(os.environ, {"WEBLOG_HTPASSWD": self.htpasswd.path})
        patcher.start()
        self.addCleanup(patcher.stop)
        self.writeLog(combined("/guarded", "http://ref.example/"))
        self.serve()

    @defer.inlineCallbacks
    def test_everyWeblogUrlAsksForCredentials(self):
        """HTML, JSON and events answer 401 with a Basic challenge, without credentials."""
        for path in ("/weblog.rpy", "/weblog.rpy/json", "/weblog.rpy/events", "/weblog.rpy?x=1"):
            code, headers, body = yield self.get(path)
            self.assertEqual(code, 401, path)
            self.assertEqual(headers.getRawHeaders(b"www-authenticate"), [b'basic realm="weblog"'])
            self.assertNotIn(b"/guarded", body)

    @defer.inlineCallbacks
    def test_wrongCredentials(self):
        """A wrong password, an unknown user or a malformed header get 401."""
        for headers in (basic("alice", "wrong"), basic("mallory", "s3cret pass"),
                        {b"authorization": [b"Basic !!!not-base64"]},
                        {b"authorization": [b"Bearer abc"]}):
            code, _, body = yield self.get("/weblog.rpy/json", headers)
            self.assertEqual(code, 401, headers)
            self.assertNotIn(b"/guarded", body)

    @defer.inlineCallbacks
    def test_rightCredentials(self):
        """The right user and password see the page, its JSON and its event stream."""
        code, _, body = yield self.get("/weblog.rpy", basic("alice", "s3cret pass"))
        self.assertEqual(code, 200)
        self.assertIn(b'<td class="resource">/guarded</td>', body)
        code, _, body = yield self.get("/weblog.rpy/json", basic("alice", "s3cret pass"))
        self.assertEqual(code, 200)
        self.assertIn(b'"resource":"/guarded"', body)
        code, _, body = yield self.get("/weblog.rpy/json?limit=0", basic("alice", "s3cret pass"))
        self.assertEqual((code, body[:7]), (400, b"limit: "))

    @defer.inlineCallbacks
    def test_otherPagesOpen(self):
        """The index, the dynamic page and static files need no credentials."""
        for path in ("/", "/dynamic.rpy", "/weblog.css", "/weblog.js"):
            code, _, _ = yield self.get(path)
            self.assertEqual(code, 200, path)

    @defer.inlineCallbacks
    def test_checkedOnceThenRemembered(self):
        """A password is checked with bcrypt once, then remembered until the file changes."""
        calls = count_checks(self)
        for _ in range(3):
            code, _, _ = yield self.get("/weblog.rpy/json", basic("alice", "s3cret pass"))
            self.assertEqual(code, 200)
        self.assertEqual(len(calls), 1)
        self.htpasswd.setContent(htpasswd_entry("alice", "new pass") + b"# changed\n")
        code, _, _ = yield self.get("/weblog.rpy/json", basic("alice", "s3cret pass"))
        self.assertEqual(code, 401)
        code, _, _ = yield self.get("/weblog.rpy/json", basic("alice", "new pass"))
        self.assertEqual(code, 200)
