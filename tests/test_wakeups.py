# -*- test-case-name: tests.test_wakeups -*-
"""Tests for L{weblog.wakeups}: when the logs are read (L{Poller}), and inotify's wake-ups."""

from __future__ import annotations

import os

from twisted.internet import defer, reactor
from twisted.internet.task import Clock, deferLater
from twisted.trial import unittest
from weblog.wakeups import Poller, watch


class Polls:
    """A poll that notes when it ran, and says more waits while C{backlog} slices are left."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.times: list[float] = []
        self.backlog = 0

    def __call__(self) -> bool:
        self.times.append(self.clock.seconds())
        if self.backlog:
            self.backlog -= 1
        return self.backlog > 0


class PollerTests(unittest.TestCase):
    """L{Poller}, driven on a Clock."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.polls = Polls(self.clock)
        self.poller = Poller(self.polls, self.clock, interval=1.0, gap=0.1)
        self.addCleanup(self.poller.stop)

    def scheduled(self) -> list[float]:
        """When the calls on the clock are due, soonest first."""
        return sorted(call.getTime() for call in self.clock.getDelayedCalls())

    def test_interval(self) -> None:
        """start() polls at once, then every interval."""
        self.poller.start()
        self.clock.pump([0.5] * 6)
        self.assertEqual(self.polls.times, [0.0, 1.0, 2.0, 3.0])

    def test_backlog(self) -> None:
        """While a poll says more waits, the next comes at once (the reactor runs between)."""
        self.polls.backlog = 3
        self.poller.start()
        self.assertEqual((self.polls.times, self.scheduled()), ([0.0], [0.0, 1.0]))
        self.clock.advance(0)
        self.clock.advance(0)
        self.assertEqual(self.polls.times, [0.0, 0.0, 0.0])
        self.assertEqual(self.scheduled(), [1.0])

    def test_due(self) -> None:
        """due() says whether a request may poll now, at most every gap; yes counts as a poll."""
        self.assertTrue(self.poller.due())
        self.clock.advance(0.05)
        self.assertFalse(self.poller.due())
        self.clock.advance(0.05)
        self.assertTrue(self.poller.due())
        self.assertFalse(self.poller.due())
        self.poller.start()  # polls at once: the gap starts again
        self.clock.advance(0.09)
        self.assertFalse(self.poller.due())

    def test_wakeCoalesced(self) -> None:
        """Wake-ups poll once, 10 ms after the first, and no sooner than gap after a poll."""
        self.poller.start()
        self.poller.wake()
        self.poller.wake()
        self.assertEqual(self.scheduled(), [0.1, 1.0])
        self.clock.advance(0.1)
        self.assertEqual(self.polls.times, [0.0, 0.1])
        self.clock.advance(0.5)
        self.poller.wake()
        self.assertEqual(self.scheduled(), [0.61, 1.0])
        self.clock.advance(0.01)
        self.assertEqual(self.polls.times, [0.0, 0.1, 0.61])

    def test_wakeBeforeStart(self) -> None:
        """A wake-up before start() schedules nothing."""
        self.poller.wake()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """stop() cancels the loop, a backlog's slice and a wake-up; later wake-ups do nothing."""
        self.polls.backlog = 5
        self.poller.start()
        self.poller.wake()
        self.assertEqual(len(self.clock.getDelayedCalls()), 3)
        self.poller.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.poller.wake()
        self.clock.advance(10)
        self.assertEqual((self.polls.times, self.clock.getDelayedCalls()), ([0.0], []))


class WatchTests(unittest.TestCase):
    """L{watch}: inotify on the logs' directories, for the logs' names only."""

    @defer.inlineCallbacks
    def test_wakesForTheLogOnly(self):
        """A change to another file of the directory wakes nothing; one to the log wakes."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        path = os.path.join(directory, "access.log")
        woken: list[None] = []
        stop = watch([path], lambda: woken.append(None))
        if stop is None:
            raise unittest.SkipTest("no inotify here: the poll alone follows the logs")
        self.addCleanup(stop)
        with open(os.path.join(directory, "other.log"), "ab") as other:
            other.write(b"not followed\n")
        yield deferLater(reactor, 0.2, lambda: None)
        self.assertEqual(woken, [])
        with open(path, "ab") as log:
            log.write(b"followed\n")
        for _ in range(50):
            if woken:
                break
            yield deferLater(reactor, 0.1, lambda: None)
        self.assertNotEqual(woken, [])
