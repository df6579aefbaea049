# -*- test-case-name: tests.test_counter -*-
"""Tests for L{weblog.counter.Counter}: the view count kept across restarts, one server a state."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogPublisher
from twisted.trial import unittest
from weblog.counter import Counter
from weblog.interfaces import ICounter
from weblog.startup import config_problem
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.support import DirectoryCase, setEnvironment, withinDeadline


def makeReadOnly(testCase: unittest.TestCase, directory: str) -> None:
    """
    Make C{directory} refuse new names until C{testCase} ends, or skip the test.

    Mode 555 does it, except for root, which writes anyway: then the immutable attribute
    (C{chattr +i}), where the file system and the capabilities allow it.
    """
    if os.geteuid() != 0:
        os.chmod(directory, 0o555)
        testCase.addCleanup(os.chmod, directory, 0o755)
        return
    try:
        subprocess.run(["chattr", "+i", directory], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise unittest.SkipTest(f"running as root, and chattr +i is refused: {error}") from None
    testCase.addCleanup(subprocess.run, ["chattr", "-i", directory], check=True)


class FakeReactor:
    """Records the system event triggers added and removed, as L{IReactorCore} would run them."""

    def __init__(self) -> None:
        self.triggers: dict[int, tuple[str, str, Callable[[], None]]] = {}
        self.removed: list[int] = []

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[[], None]
    ) -> int:
        """Remember the trigger; return its id."""
        identifier = len(self.triggers) + 1
        self.triggers[identifier] = (phase, eventType, callable)
        return identifier

    def removeSystemEventTrigger(self, identifier: int) -> None:
        """Forget the trigger."""
        del self.triggers[identifier]
        self.removed.append(identifier)


@implementer(ILogObserver)
class EventCollector:
    """A log observer that keeps every event it sees."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        """Keep C{event}."""
        self.events.append(event)


@implementer(ILogObserver)
class ErrorTexts(list[str]):
    """A log observer that is the list of the errors it saw, as text."""

    def __call__(self, event: dict[str, Any]) -> None:
        """Keep C{event}'s text if it is an error."""
        if event.get("log_level") == LogLevel.error:
            self.append(formatEvent(event))


def collectErrors(testCase: unittest.TestCase) -> ErrorTexts:
    """A list that gets the text of every error logged from now until C{testCase} ends."""
    errors = ErrorTexts()
    globalLogPublisher.addObserver(errors)
    testCase.addCleanup(globalLogPublisher.removeObserver, errors)
    return errors


class _StateCase(DirectoryCase):
    """A fresh state directory, the path of C{counter.json} in it, and a Clock."""

    fileName = "counter.json"

    def saved(self) -> Any:
        """The state file's parsed content."""
        with open(self.path) as state:
            return json.load(state)


class CounterTests(_StateCase):
    """L{Counter} counts views and keeps the count in C{counter.json} across restarts."""

    def counter(self, delay: float = 1.0) -> Counter:
        """Make a counter on the test's directory and clock."""
        return Counter(self.directory, clock=self.clock, delay=delay)

    def stateFiles(self) -> list[str]:
        """The names in the state directory, but the lock file's."""
        return sorted(name for name in os.listdir(self.directory) if name != "weblog.lock")

    def test_provides(self) -> None:
        """A Counter provides ICounter."""
        counter = self.counter()
        self.assertTrue(ICounter.providedBy(counter))
        self.assertTrue(verifyObject(ICounter, counter))

    def test_startsAtZero(self) -> None:
        """Without a state file the count is 0, and no file but the lock is written for it."""
        counter = self.counter()
        self.assertEqual(counter.getValue(), 0)
        self.assertEqual(counter.path, self.path)
        self.assertEqual(os.listdir(self.directory), ["weblog.lock"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_increment(self) -> None:
        """Each increment adds one."""
        counter = self.counter()
        for expected in (1, 2, 3):
            counter.increment()
            self.assertEqual(counter.getValue(), expected)

    def test_writtenAfterDelay(self) -> None:
        """An increment is written once C{delay} seconds have passed, not before."""
        counter = self.counter(delay=1.0)
        counter.increment()
        self.clock.advance(0.5)
        self.assertFalse(os.path.exists(self.path))
        counter.increment()
        self.clock.advance(0.5)
        self.assertEqual(self.saved(), {"value": 2})
        self.assertEqual(self.clock.getDelayedCalls(), [])
        counter.increment()
        self.clock.advance(0.9)
        self.assertEqual(self.saved(), {"value": 2})
        self.clock.advance(0.1)
        self.assertEqual(self.saved(), {"value": 3})

    def test_oneWritePending(self) -> None:
        """Many increments within the delay schedule a single write."""
        counter = self.counter()
        for _ in range(5):
            counter.increment()
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_saveNow(self) -> None:
        """save() writes at once and cancels the pending write."""
        counter = self.counter()
        counter.increment()
        counter.save()
        self.assertEqual(self.saved(), {"value": 1})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_atomic(self) -> None:
        """The write leaves only the state file: no temporary file behind."""
        counter = self.counter()
        counter.increment()
        counter.save()
        counter.increment()
        self.clock.advance(1)
        self.assertEqual(self.stateFiles(), ["counter.json"])

    def test_temporaryLinkNotFollowed(self) -> None:
        """
        A symlink planted at C{counter.json.tmp} is not written through: its target keeps its
        content, and the count is saved as a regular C{counter.json}.
        """
        target = os.path.join(self.directory, "passwd-copy")
        with open(target, "w") as copy:
            copy.write("root:x:0:0:root:/root:/bin/sh\n")
        os.symlink(os.path.abspath(target), self.path + ".tmp")
        counter = self.counter()
        counter.increment()
        counter.save()
        with open(target) as copy:
            self.assertEqual(copy.read(), "root:x:0:0:root:/root:/bin/sh\n")
        self.assertTrue(stat.S_ISREG(os.lstat(self.path).st_mode))
        self.assertEqual(self.saved(), {"value": 1})
        self.assertTrue(os.path.islink(self.path + ".tmp"))

    def test_othersTemporaryUntouched(self) -> None:
        """A temporary file another writer has at C{counter.json.tmp} is neither used nor moved."""
        with open(self.path + ".tmp", "w") as other:
            other.write('{"value": 7')
        counter = self.counter()
        counter.increment()
        counter.save()
        self.assertEqual(self.saved(), {"value": 1})
        with open(self.path + ".tmp") as other:
            self.assertEqual(other.read(), '{"value": 7')

    def test_failedSaveLeavesNoTemporary(self) -> None:
        """When the rename fails (a directory took the state's name), no temporary is left."""
        counter = self.counter()
        os.mkdir(self.path)
        errors = collectErrors(self)
        counter.increment()
        counter.save()
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].startswith("cannot save the view count to "), errors)
        self.assertEqual(self.stateFiles(), ["counter.json"])
        self.assertEqual(counter.getValue(), 1)

    def test_createsDirectory(self) -> None:
        """A state directory that does not exist yet is created, to hold the lock and the count."""
        directory = os.path.join(self.directory, "deeper", "state")
        counter = Counter(directory, clock=self.clock)
        self.assertEqual(os.listdir(directory), ["weblog.lock"])
        counter.increment()
        counter.save()
        self.assertEqual(sorted(os.listdir(directory)), ["counter.json", "weblog.lock"])

    def test_survivesRestart(self) -> None:
        """A new Counter on the same directory starts from the saved value."""
        counter = self.counter()
        for _ in range(4):
            counter.increment()
        self.clock.advance(1)
        counter.stop()
        again = self.counter()
        self.assertEqual(again.getValue(), 4)
        again.increment()
        again.stop()
        self.assertEqual(self.counter().getValue(), 5)

    def assertCorrupt(self, content: bytes) -> None:
        """
        A state file holding C{content} is set aside with its content, an error naming it is
        logged, and the count starts at 0.
        """
        with open(self.path, "wb") as state:
            state.write(content)
        events = EventCollector()
        globalLogPublisher.addObserver(events)
        self.addCleanup(globalLogPublisher.removeObserver, events)
        counter = self.counter()
        self.assertEqual(counter.getValue(), 0)
        names = self.stateFiles()
        self.assertEqual(len(names), 1)
        self.assertTrue(names[0].startswith("counter.json.corrupt-"), names)
        with open(os.path.join(self.directory, names[0]), "rb") as aside:
            self.assertEqual(aside.read(), content)
        errors = [event for event in events.events if event.get("log_level") == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertIn(self.path, formatEvent(errors[0]))
        self.assertIn(names[0], formatEvent(errors[0]))
        counter.increment()
        counter.save()
        self.assertEqual(self.saved(), {"value": 1})

    def test_fifoAsState(self) -> None:
        """
        A FIFO at C{counter.json} is set aside at once instead of blocking the read: opening
        one waits for a writer, and the Counter is made during a request, in the reactor.
        """
        os.mkfifo(self.path)
        errors = collectErrors(self)
        counter: Counter = withinDeadline(self, self.counter, [self.path])
        self.assertEqual(counter.getValue(), 0)
        [aside] = self.stateFiles()
        self.assertTrue(stat.S_ISFIFO(os.lstat(os.path.join(self.directory, aside)).st_mode))
        self.assertEqual(len(errors), 1)
        self.assertIn("is a FIFO", errors[0])
        counter.increment()
        counter.save()
        self.assertEqual(self.saved(), {"value": 1})

    def test_corruptTwiceInOneSecond(self) -> None:
        """Two corrupt state files set aside within one second are both kept, under two names."""
        for content in (b"first garbage", b"second garbage"):
            with open(self.path, "wb") as state:
                state.write(content)
            counter = self.counter()
            self.assertEqual(counter.getValue(), 0)
            counter.stop()
        asides = [name for name in self.stateFiles() if name != "counter.json"]
        self.assertEqual(len(asides), 2, asides)
        contents = set()
        for name in asides:
            self.assertTrue(name.startswith("counter.json.corrupt-"), name)
            with open(os.path.join(self.directory, name), "rb") as aside:
                contents.add(aside.read())
        self.assertEqual(contents, {b"first garbage", b"second garbage"})

    def test_corruptInReadOnlyDirectory(self) -> None:
        """
        A corrupt state file that cannot be set aside is logged and left as it is; counting
        goes on from 0 in memory, and nothing is raised.
        """
        with open(self.path, "wb") as state:
            state.write(b"garbage")
        makeReadOnly(self, self.directory)
        errors = collectErrors(self)
        counter = self.counter()
        self.assertEqual(counter.getValue(), 0)
        [aside] = [error for error in errors if "cannot be set aside" in error]
        self.assertIn(self.path, aside)
        counter.increment()
        counter.save()
        self.assertEqual(counter.getValue(), 1)
        self.assertEqual(self.stateFiles(), ["counter.json"])
        with open(self.path, "rb") as state:
            self.assertEqual(state.read(), b"garbage")

    def test_startSavesAtShutdown(self) -> None:
        """start() adds a before-shutdown trigger that saves the count."""
        reactor = FakeReactor()
        counter = self.counter()
        counter.start(reactor)  # type: ignore[arg-type]
        self.assertEqual(list(reactor.triggers), [1])
        phase, eventType, trigger = reactor.triggers[1]
        self.assertEqual((phase, eventType), ("before", "shutdown"))
        counter.increment()
        trigger()
        self.assertEqual(self.saved(), {"value": 1})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """stop() saves at once and removes the shutdown trigger."""
        reactor = FakeReactor()
        counter = self.counter()
        counter.start(reactor)  # type: ignore[arg-type]
        counter.increment()
        counter.stop()
        self.assertEqual(reactor.triggers, {})
        self.assertEqual(reactor.removed, [1])
        self.assertEqual(self.saved(), {"value": 1})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stateFromEnvironment(self) -> None:
        """Without a directory, the state file is in C{$WEBLOG_STATE}."""
        setEnvironment(self, WEBLOG_STATE=self.directory)
        with open(self.path, "w") as state:
            json.dump({"value": 41}, state)
        counter = Counter(clock=self.clock)
        self.assertEqual(counter.path, self.path)
        self.assertEqual(counter.getValue(), 41)

    def test_stateDefault(self) -> None:
        """Without a directory or C{$WEBLOG_STATE}, the state file is C{var/counter.json}."""
        setEnvironment(self, WEBLOG_STATE=None)
        self.assertEqual(Counter(clock=self.clock).path, os.path.join("var", "counter.json"))


CORRUPT = [
    ("Garbage", b"garbage",
     "A state file that is not JSON is set aside and the count starts at 0."),
    ("Truncated", b'{"value": 1',
     "A truncated JSON state file is set aside and the count starts at 0."),
    ("Negative", b'{"value": -1}',
     "A negative count is set aside and the count starts at 0."),
    ("NotInteger", b'{"value": "3"}',
     "A count that is a string, a fraction or a boolean is set aside."),
    ("Fraction", b'{"value": 1.5}',
     "A count that is a fraction is set aside."),
    ("Boolean", b'{"value": true}',
     "A count that is a boolean is set aside."),
    ("NoValue", b'{"count": 3}',
     "JSON without a value, or not an object, is set aside."),
    ("NotObject", b"[3]",
     "A JSON array is set aside."),
    ("NotUtf8", b"\xff\xfe\x00garbage",
     "Bytes that are not text are set aside."),
    ("DeepNesting", b"[" * 4096,
     "4,096 C{[}, on which json.loads raises RecursionError, are set aside like any garbage."),
    ("TooLong", b'{"value": 1, "padding": "' + b"x" * 5000 + b'"}',
     "A state file longer than any count (valid JSON or not) is set aside."),
]
"""State files that hold no count: each case's name, the file's content, and what it is."""


def corruptTest(content: bytes, doc: str) -> Callable[[CounterTests], None]:
    """A test that a state file of C{content} is set aside (see L{CounterTests.assertCorrupt})."""

    def test(self: CounterTests) -> None:
        self.assertCorrupt(content)

    test.__doc__ = doc
    return test


for _name, _content, _doc in CORRUPT:
    setattr(CounterTests, f"test_corrupt{_name}", corruptTest(_content, _doc))


HOLDER = """
import sys
from twisted.internet.task import Clock
from weblog.counter import Counter
counter = Counter(sys.argv[1], clock=Clock())
for _ in range(5):
    counter.increment()
counter.save()
print(counter.problem or "holding", flush=True)
sys.stdin.readline()
counter.stop()
"""
"""A server stand-in: count 5 views in the directory given, then hold it until told to stop."""


class CounterLockTests(_StateCase):
    """Only one server uses a state directory: the Counter holds C{weblog.lock} there."""

    def setUp(self) -> None:
        super().setUp()
        self.errors = collectErrors(self)

    def counter(self) -> Counter:
        """A Counter on the test's directory, stopped when the test ends."""
        counter = Counter(self.directory, clock=self.clock)
        self.addCleanup(counter.stop)
        return counter

    def inUse(self, pid: int) -> str:
        """The refusal's reason while process C{pid} holds the directory."""
        return (f"WEBLOG_STATE {self.directory} is in use by another weblog server (pid {pid}); "
                "each server needs its own")

    def test_secondCounterRefused(self) -> None:
        """
        A second Counter on a directory in use counts nothing, writes nothing, and says why
        (logged once, however many views it refuses).
        """
        first = self.counter()
        first.increment()
        first.save()
        second = self.counter()
        self.assertEqual(second.problem, self.inUse(os.getpid()))
        self.assertEqual(first.problem, "")
        for _ in range(3):
            second.increment()
        self.assertEqual(second.getValue(), 0)
        first.increment()
        first.increment()
        self.clock.advance(5)
        second.save()
        self.assertEqual(self.saved(), {"value": 3})
        self.assertEqual(first.getValue(), 3)
        refusals = [error for error in self.errors if "views are not counted" in error]
        self.assertEqual(refusals, [f"views are not counted: {self.inUse(os.getpid())}"])

    def test_noCountedViewLost(self) -> None:
        """
        Views on two Counters sharing a directory, interleaved: every view a Counter showed as
        counted (its value went up) is in the saved count once both have stopped.
        """
        counters = [self.counter(), self.counter()]
        counted = 0
        for view in range(20):
            counter = counters[view % 2]
            before = counter.getValue()
            counter.increment()
            counted += counter.getValue() - before
            self.clock.advance(0.3)
        for counter in counters:
            counter.stop()
        self.assertEqual(self.saved(), {"value": counted})
        self.assertEqual(counted, 10)

    def test_takesOverWhenFirstStops(self) -> None:
        """Once the first Counter stops, the second's next view takes the lock and goes on."""
        first = self.counter()
        first.increment()
        first.increment()
        second = self.counter()
        second.increment()
        first.stop()
        second.increment()
        self.assertEqual((second.problem, second.getValue()), ("", 3))
        second.save()
        self.assertEqual(self.saved(), {"value": 3})
        third = self.counter()
        self.assertEqual(third.problem, self.inUse(os.getpid()))

    def test_otherProcess(self) -> None:
        """
        A Counter in another process holds the directory: this one is refused, naming that
        process, and so is start-up (L{config_problem}); once it ends, this one goes on.
        """
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, self.directory],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.addCleanup(holder.wait, 10)
        self.addCleanup(holder.kill)
        assert holder.stdout is not None and holder.stdin is not None
        self.assertEqual(holder.stdout.readline(), b"holding\n")
        counter = self.counter()
        self.assertEqual(counter.problem, self.inUse(holder.pid))
        setEnvironment(self, WEBLOG_STATE=self.directory, WEBLOG_HTPASSWD=None,
                       WEBLOG_KEEP=None, WEBLOG_FORMAT=None, WEBLOG_MAX_STREAMS=None)
        self.assertEqual(config_problem(), self.inUse(holder.pid))
        holder.communicate(b"stop\n", timeout=30)
        self.assertEqual(holder.returncode, 0)
        self.assertEqual(config_problem(), "")
        counter.increment()
        self.assertEqual((counter.problem, counter.getValue()), ("", 6))

    def test_lockLinkNotFollowed(self) -> None:
        """
        A symlink planted at C{weblog.lock} is not followed: its target is untouched, the
        failure is logged, and the count is kept in memory without writing the state.
        """
        target = os.path.join(self.directory, "elsewhere")
        with open(target, "w") as file:
            file.write("precious\n")
        os.symlink(os.path.abspath(target), os.path.join(self.directory, "weblog.lock"))
        counter = self.counter()
        counter.increment()
        counter.save()
        self.assertEqual((counter.problem, counter.getValue()), ("", 1))
        with open(target) as file:
            self.assertEqual(file.read(), "precious\n")
        self.assertFalse(os.path.exists(self.path))
        [error] = self.errors
        self.assertTrue(error.startswith("cannot lock "), error)


class CounterSaveFailureTests(unittest.TestCase):
    """A Counter whose state cannot be written keeps counting and says why."""

    def test_unwritableStateIsLogged(self) -> None:
        """
        With the state directory unusable, the Counter logs once that it cannot lock it and
        once that it cannot read the count; the count goes on in memory, and saves say no more.
        """
        base = self.mktemp()
        os.makedirs(base)
        blocker = os.path.join(base, "not-a-dir")
        with open(blocker, "w") as file:
            file.write("a file where the state directory should be")
        events = EventCollector()
        globalLogPublisher.addObserver(events)
        self.addCleanup(globalLogPublisher.removeObserver, events)
        clock = Clock()
        counter = Counter(blocker, clock=clock)
        counter.increment()
        counter.save()
        self.assertEqual(counter.getValue(), 1)
        counter.increment()
        clock.advance(1)
        self.assertEqual(counter.getValue(), 2)
        errors = [formatEvent(event) for event in events.events
                  if event.get("log_level") == LogLevel.error]
        self.assertEqual(len(errors), 2, errors)
        self.assertTrue(errors[0].startswith(f"cannot lock {blocker}/weblog.lock: "), errors[0])
        self.assertTrue(errors[0].endswith("; the view count is kept in memory only"), errors[0])
        self.assertTrue(errors[1].startswith("cannot read the view count from "), errors[1])
        with open(blocker) as file:
            self.assertEqual(file.read(), "a file where the state directory should be")
