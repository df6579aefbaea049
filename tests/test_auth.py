# -*- test-case-name: tests.test_auth -*-
"""Tests for L{weblog.auth}: optional HTTP Basic authentication from an htpasswd file."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import threading
import time
from collections import Counter
from typing import Any
from unittest import mock

import bcrypt
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, reactor, threads
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock, deferLater
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource, getChildForRequest
from twisted.web.static import Registry
from twisted.web.test.requesthelper import DummyRequest
from weblog.auth import (
    BasicGuard,
    ClientCredentials,
    HtpasswdChecker,
    HtpasswdError,
    IHtpasswdCheckers,
    bcrypt_cost,
    dummy_hash,
    protect,
    read_htpasswd,
)
from weblog.throttle import CheckPool, Throttle

from tests.support import SiteCase, basic, combined, htpasswd_entry, withinDeadline
from tests.test_throttle import Runs

HTPASSWD = shutil.which("htpasswd")
# 80 bytes, as htpasswd -B accepts them; bcrypt reads only the first 72.
LONG = "".join(chr(ord("a") + i % 26) for i in range(80))
GUESS_COST = 12  # the login test's bcrypt cost: a real one (about 0.3 s a check here)


def count_checks(test: unittest.TestCase) -> list[bytes]:
    """Record each bcrypt.checkpw call (from any thread) until C{test} ends; return the list."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real(password, hashed)

    test.patch(bcrypt, "checkpw", counting)
    return calls


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

    def test_noFileNoGuard(self):
        """Without WEBLOG_HTPASSWD the page is served as it is."""
        page = object()
        with mock.patch.dict(os.environ, {"WEBLOG_HTPASSWD": ""}):
            self.assertIs(protect(page), page)  # type: ignore[arg-type]

    def test_oneCheckerPerSite(self):
        """A site's guards share the checker its registry keeps for the file, request after
        request; another site has its own; without a registry a file is refused."""
        with open(self.path, "wb") as file:
            file.write(htpasswd_entry("alice", "a"))
        registry, other = Registry(), Registry()
        guards = [protect(Resource(), registry, self.path) for _ in range(2)]
        checker = registry.getComponent(IHtpasswdCheckers)[self.path]
        self.assertIsInstance(checker, HtpasswdChecker)
        for guard in guards:
            assert isinstance(guard, BasicGuard)
            self.assertEqual(guard.portal.checkers, {IUsernamePassword: checker})
        protect(Resource(), other, self.path)
        self.assertIsNot(other.getComponent(IHtpasswdCheckers)[self.path], checker)
        self.assertRaises(TypeError, protect, Resource(), None, self.path)


class HtpasswdCheckerTests(unittest.TestCase):
    """HtpasswdChecker: equal timing for unknown users, the 72-byte rule, shared checks."""

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
        # One thread: with two, checks one after the other alternate between them, and a
        # thread that shares its core with another process makes one kind look slower.
        pool = CheckPool(threads=1)
        self.addCleanup(pool.stop)
        checker = HtpasswdChecker(self.path, throttle=Throttle(Clock(), run=pool))
        unknown: list[float] = []
        known: list[float] = []
        for attempt in range(8):
            users = [(b"mallory", unknown), (b"alice", known)]
            for user, times in users[::-1] if attempt % 2 else users:
                times.append((yield seconds_to_reject(checker, user, b"guess %d" % attempt)))
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
            reason = "no htpasswd binary (Debian: apt-get install apache2-utils)"
            if os.environ.get("CI"):
                raise AssertionError(f"{reason}; CI must install it (.ci/run does)")
            raise unittest.SkipTest(f"{reason}; test_longPasswordFirst72Bytes covers the rule")
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


    @defer.inlineCallbacks
    def test_sameCredentialsShareOneCheck(self):
        """The same credentials sent again while they are checked wait for that one check."""
        self.write(htpasswd_entry("alice", "right"))
        calls = count_checks(self)
        checker = HtpasswdChecker(self.path)
        same = [ClientCredentials(b"alice", b"right", "192.0.2.1") for _ in range(3)]
        users = yield defer.gatherResults([checker.requestAvatarId(c) for c in same])
        self.assertEqual((users, len(calls)), ([b"alice"] * 3, 1))
        wrong = [checker.requestAvatarId(ClientCredentials(b"alice", b"wrong", "192.0.2.1"))
                 for _ in range(2)]
        for attempt in wrong:
            yield self.assertFailure(attempt, UnauthorizedLogin)
        self.assertEqual(len(calls), 2)

    @defer.inlineCallbacks
    def test_rememberedForAWhile(self):
        """A password that checked out is checked again only C{remember} seconds later."""
        self.write(htpasswd_entry("alice", "right"))
        calls = count_checks(self)
        clock = Clock()
        checker = HtpasswdChecker(self.path, remember=300, clock=clock)
        for advance, checks in ((0, 1), (299, 1), (2, 2), (1, 2)):
            clock.advance(advance)
            self.assertTrue((yield self.accepts(checker, b"alice", b"right")))
            self.assertEqual(len(calls), checks, clock.seconds())


    def test_fileChangedDuringCheck(self):
        """A password checked while the file changed is not remembered past the change."""
        self.write(htpasswd_entry("alice", "old"))
        clock = Clock()
        runs = Runs()
        checker = HtpasswdChecker(self.path, clock=clock, throttle=Throttle(clock, run=runs))
        first = checker.requestAvatarId(UsernamePassword(b"alice", b"old"))
        self.write(htpasswd_entry("alice", "new"), b"# changed\n")
        second = checker.requestAvatarId(UsernamePassword(b"alice", b"new"))  # reads it again
        late = checker.requestAvatarId(UsernamePassword(b"alice", b"old"))  # does not join first
        runs.finish()
        self.assertEqual(self.successResultOf(first), b"alice")  # as the file was when asked
        runs.finish()
        self.assertEqual(self.successResultOf(second), b"alice")
        runs.finish()
        self.failureResultOf(late, UnauthorizedLogin)
        third = checker.requestAvatarId(UsernamePassword(b"alice", b"old"))
        self.assertEqual(len(runs.held), 1)  # checked again, not remembered
        runs.finish()
        self.failureResultOf(third, UnauthorizedLogin)


class Secret(Resource):
    """What the guard protects in BasicGuardTests."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setResponseCode(200)
        return b"secret " + b"/".join(request.postpath)


class BasicGuardTests(unittest.TestCase):
    """BasicGuard: the HTTP answers, with DummyRequests from chosen addresses."""

    def setUp(self) -> None:
        path = self.mktemp()
        with open(path, "wb") as file:
            file.write(htpasswd_entry("alice", "right"))
        self.clock = Clock()
        self.runs = Runs()
        throttle = Throttle(self.clock, run=self.runs, pending=2)
        self.guard = BasicGuard(Secret(), HtpasswdChecker(path, clock=self.clock,
                                                          throttle=throttle))

    def request(self, password: str | None = None, client: str = "192.0.2.1",
                path: bytes = b"") -> tuple[DummyRequest, defer.Deferred[DummyRequest]]:
        """Send a request for C{path}; return it and a Deferred that fires when it is answered."""
        request = DummyRequest([path] if path else [])
        request.client = IPv4Address("TCP", client, 40000)
        if password is not None:
            request.requestHeaders.setRawHeaders(b"authorization",
                                                 basic("alice", password)[b"authorization"])
        answered = request.notifyFinish().addCallback(lambda _: request)
        result = getChildForRequest(self.guard, request).render(request)
        if isinstance(result, bytes):
            request.write(result)
            request.finish()
        return request, answered

    def answer(self, password: str | None = None, client: str = "192.0.2.1", path: bytes = b""):
        """The code, headers and body of a request answered without running a check."""
        request = self.successResultOf(self.request(password, client, path)[1])
        return request.responseCode, request.responseHeaders, b"".join(request.written)

    def checked(self, password: str, client: str = "192.0.2.1", path: bytes = b""):
        """The code and body of a request answered after its check ran."""
        _, answered = self.request(password, client, path)
        self.runs.finish(-1)
        request = self.successResultOf(answered)
        return request.responseCode, b"".join(request.written)

    def assertRefused(self, answer: Any, code: int, retry: bytes, reason: bytes) -> None:
        """C{answer} refuses with C{code}, C{Retry-After: retry} and a one-line C{reason}."""
        got, headers, body = answer
        self.assertEqual(got, code)
        self.assertEqual(headers.getRawHeaders(b"retry-after"), [retry])
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/plain; charset=utf-8"])
        self.assertEqual(body, reason + b"; try again in " + retry + b" s\n")

    def test_challenge(self):
        """No credentials, or another scheme, get a 401 with the Basic challenge."""
        for headers in ([], [b"Bearer abc"], [b"Basic !!!"]):
            request = DummyRequest([])
            request.requestHeaders.setRawHeaders(b"authorization", headers)
            request.render(self.guard)
            self.assertEqual(request.responseCode, 401, headers)
            self.assertEqual(request.responseHeaders.getRawHeaders(b"www-authenticate"),
                             [b'basic realm="weblog"'])
        self.assertEqual(self.runs.held, [])

    def test_rightPassword(self):
        """The right password shows the resource and its children; a wrong one gets 401."""
        self.assertEqual(self.checked("right"), (200, b"secret "))
        self.assertEqual(self.checked("right!", path=b"json"), (401, b"Unauthorized\n"))
        self.assertEqual(self.answer("right", path=b"json")[::2], (200, b"secret json"))

    def test_tooManyFailures(self):
        """After 5 wrong passwords an address gets 429 for the rest of the minute, unchecked."""
        for attempt in range(5):
            self.assertEqual(self.checked(f"wrong {attempt}")[0], 401)
        reason = b"Too many wrong passwords from your address"
        self.assertRefused(self.answer("wrong"), 429, b"60", reason)
        self.clock.advance(30)
        self.assertRefused(self.answer("right", path=b"json"), 429, b"30", reason)
        self.assertEqual(self.runs.held, [])
        self.assertEqual(self.checked("right", client="192.0.2.2"), (200, b"secret "))
        self.clock.advance(30)
        self.assertEqual(self.checked("wrong again"), (401, b"Unauthorized\n"))

    def test_rememberedPasswordNotHeldBack(self):
        """A password that checked out still works from an address that is held back."""
        self.assertEqual(self.checked("right"), (200, b"secret "))
        for attempt in range(5):
            self.assertEqual(self.checked(f"wrong {attempt}")[0], 401)
        self.assertEqual(self.answer("wrong")[0], 429)
        self.assertEqual(self.answer("right")[::2], (200, b"secret "))

    def test_tooManyRequestsPhrase(self):
        """A 429 says "Too Many Requests" on its status line (Twisted has no phrase for it)."""
        for attempt in range(5):
            self.assertEqual(self.checked(f"wrong {attempt}")[0], 401)
        request = self.successResultOf(self.request("wrong")[1])
        self.assertEqual((request.responseCode, request.responseMessage),
                         (429, b"Too Many Requests"))

    def test_oneCheckPerAddress(self):
        """A second check from an address whose first is still running gets 429 for 1 s."""
        self.request("wrong 1")
        self.assertRefused(self.answer("wrong 2"), 429, b"1",
                           b"A password check for your address is still running")
        self.request("wrong 2", client="192.0.2.2")
        self.assertEqual(len(self.runs.held), 2)

    def test_busy(self):
        """Beyond the checks allowed running or queued, anyone gets 503 for 1 s."""
        self.request("wrong 1")
        self.request("wrong 2", client="192.0.2.2")
        self.assertRefused(self.answer("right", client="192.0.2.3"), 503, b"1",
                           b"Too many password checks waiting")
        self.runs.finish()
        self.assertEqual(self.checked("right", client="192.0.2.3"), (200, b"secret "))

    def test_brokenCheck(self):
        """A check that breaks answers 500 without a traceback, and is logged."""
        _, answered = self.request("right")
        self.runs.fail(RuntimeError("broken bcrypt"))
        request = self.successResultOf(answered)
        body = b"".join(request.written)
        self.assertEqual(request.responseCode, 500)
        self.assertNotIn(b"broken", body)
        self.assertNotIn(b"Traceback", body)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

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
        self.assertEqual((code, body.partition(b"<p>")[2][:7]), (400, b"limit: "))

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

    @defer.inlineCallbacks
    def test_guessingDoesNotStarveLogins(self):
        """
        Ten connections guessing at cost 12 neither crowd nor queue ahead of a real login.

        The login takes about one check (at most 4, as measured before and after), at most
        one guess is checked beside it and 3 before it, and the guesses get 429 and Retry-After.
        """
        self.htpasswd.setContent(htpasswd_entry("alice", "s3cret pass", cost=GUESS_COST))
        real = bcrypt.checkpw
        lock = threading.Lock()
        running: set[bytes] = set()
        started: list[bytes] = []
        beside = [0]  # the most guesses checked at once while the login's password was

        def checkpw(password: bytes, hashed: bytes) -> bool:
            with lock:
                started.append(password)
                running.add(password)
                if b"s3cret pass" in running:
                    beside[0] = max(beside[0], len(running) - 1)
            try:
                return bool(real(password, hashed))
            finally:
                with lock:
                    running.discard(password)

        def reference() -> float:
            """The median time of 3 checks at this cost, in a thread (with nothing else)."""
            hashed = bcrypt.gensalt(GUESS_COST) + b"." * 31
            times = []
            for _ in range(3):
                start = time.perf_counter()
                real(b"x", hashed)
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        before = yield threads.deferToThread(reference)
        self.patch(bcrypt, "checkpw", checkpw)
        url = f"http://127.0.0.1:{self.port.getHost().port}/weblog.rpy/json".encode()
        guesser = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False),
                        bindAddress=("127.0.0.2", 0))
        answers: list[tuple[int, list[bytes] | None]] = []
        guessing = [True]

        @defer.inlineCallbacks
        def guess(connection: int):
            attempt = 0
            while guessing[0]:
                attempt += 1
                headers = Headers(basic("alice", f"guess {connection} {attempt}"))
                response = yield guesser.request(b"GET", url, headers)
                yield readBody(response)
                answers.append((response.code, response.headers.getRawHeaders(b"retry-after")))
                if response.code != 401:  # the guessers' side of a refusal costs this process
                    yield deferLater(reactor, 0.01, lambda: None)  # too: keep it from the login

        guessers = [guess(connection) for connection in range(10)]
        yield deferLater(reactor, before / 2, lambda: None)  # the guesses are in
        start = time.perf_counter()
        code, _, _ = yield self.get("/weblog.rpy/json", basic("alice", "s3cret pass"))
        took = time.perf_counter() - start
        guessing[0] = False
        yield defer.gatherResults(guessers)
        after = yield threads.deferToThread(reference)
        ahead = started.index(b"s3cret pass")
        codes = Counter(code for code, _ in answers)
        report = (f"login {took:.2f} s; one check {before:.2f} s before, {after:.2f} s after; "
                  f"{ahead} guesses checked before it, at most {beside[0]} beside it; "
                  f"the guesses got {dict(codes)}")
        self.assertEqual(code, 200, report)
        self.assertLessEqual(beside[0], 1, report)
        self.assertLessEqual(ahead, 3, report)
        self.assertLess(took, 4 * max(before, after) + 0.3, report)
        self.assertIn(429, codes, report)
        self.assertLessEqual(codes[401], 5, report)
        for code, retry in answers:
            if code in (429, 503):
                self.assertTrue(retry and retry[0].isdigit() and int(retry[0]) >= 1, retry)


class HtpasswdFifoTests(unittest.TestCase):
    """A FIFO at WEBLOG_HTPASSWD is refused at once, never waited on."""

    def test_fifoRefused(self):
        """read_htpasswd on a FIFO raises HtpasswdError saying what it is, without blocking."""
        path = self.mktemp()
        os.mkfifo(path)
        error = self.assertRaises(HtpasswdError, withinDeadline, self,
                                  lambda: read_htpasswd(path), [path])
        self.assertEqual(str(error), f"WEBLOG_HTPASSWD {path}: is a FIFO")
