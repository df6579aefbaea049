# -*- test-case-name: tests.test_agents -*-
"""Tests for L{weblog.agents}: a user-agent's browser, system and device class."""

from __future__ import annotations

import time
from typing import Any

from twisted.trial import unittest
from weblog import agents
from weblog.agents import LONGEST, Agent, agent_of, device_of
from weblog.cleaning import MAX_FIELD, clean
from weblog.selection import is_bot

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
                  " Gecko) Chrome/120.0.0.0 Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15"
                 " (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")
SAFARI_IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
               " like Gecko) Version/16.6 Mobile/15E148 Safari/604.1")
CHROME_ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML,"
                        " like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36")
CHROME_ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML,"
                         " like Gecko) Chrome/120.0.0.0 Safari/537.36")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


class AgentOfTests(unittest.TestCase):
    """L{agent_of} gives ua-parser's families and the device class of real user-agents."""

    def test_known(self) -> None:
        """Each kind of device, from real user-agents of each."""
        self.assertEqual(agent_of(CHROME_WINDOWS), Agent("Chrome", "Windows", "desktop"))
        self.assertEqual(agent_of(FIREFOX_LINUX), Agent("Firefox", "Linux", "desktop"))
        self.assertEqual(agent_of(SAFARI_IPHONE), Agent("Mobile Safari", "iOS", "mobile"))
        self.assertEqual(agent_of(SAFARI_IPAD), Agent("Mobile Safari", "iOS", "tablet"))
        self.assertEqual(agent_of(CHROME_ANDROID_PHONE),
                         Agent("Chrome Mobile", "Android", "mobile"))
        self.assertEqual(agent_of(CHROME_ANDROID_TABLET).device, "tablet")
        self.assertEqual(agent_of(GOOGLEBOT), Agent("Googlebot", "Other", "crawler"))

    def test_noAgent(self) -> None:
        """No user-agent: no browser or system, and a crawler (as the bot column says)."""
        self.assertTrue(is_bot(None))
        self.assertEqual(agent_of(None), Agent(None, None, "crawler"))

    def test_unknown(self) -> None:
        """An agent the rules do not know is C{Other}, and its device C{other}."""
        self.assertEqual(agent_of("Mozilla/5.0"), Agent("Other", "Other", "other"))

    def test_crawlerWhenBot(self) -> None:
        """Whatever the rules say, an agent on the crawler list is a crawler's device."""
        for agent in (GOOGLEBOT, "curl/8.4.0", "python-requests/2.31", CHROME_WINDOWS):
            self.assertEqual(agent_of(agent).device == "crawler", is_bot(agent), agent)

    def test_deviceRule(self) -> None:
        """The rule in L{device_of}'s docstring, case by case."""
        self.assertEqual(device_of("x Mobile", "Android", "Other"), "mobile")
        self.assertEqual(device_of("x", "Android", "Other"), "tablet")
        self.assertEqual(device_of("x", "Other", "Generic Tablet"), "tablet")
        self.assertEqual(device_of("x", "Other", "Generic Feature Phone"), "mobile")
        self.assertEqual(device_of("x", "Mac OS X", "Mac"), "desktop")
        self.assertEqual(device_of("x", "Other", "Other"), "other")

    def test_hostileBounded(self) -> None:
        """
        Long agents of repeated tokens (8 to 64 KiB logged, so at most L{MAX_FIELD} characters
        as a hit shows them) are matched on their first L{LONGEST} characters only, and each
        takes a few milliseconds of CPU at most (unbounded, 64 KiB of C{bot} took 97 ms); so
        do agents of mixed tokens, the rules' worse case.
        """
        seen: list[int] = []
        resolve = agents._resolve

        def resolving(agent: str, domains: Any) -> Any:
            seen.append(len(agent))
            return resolve(agent, domains)

        self.patch(agents, "_resolve", resolving)
        agents._look_up(CHROME_WINDOWS)  # the rules are compiled on first use
        worst = 0.0
        mixed = "".join(("Chrome/1.2 ", "Safari/3 ", "bot ", "Android 5; ", "iPhone ", "x")[
            n * 7 % 6] for n in range(2000))
        for size in (8 << 10, 64 << 10):
            for token in ("bot", "; ", "Android ", "Mozilla/5.0 (Linux; Android 10; ",
                          "Chrome/1.", "X11; ", "spider", "(", "a", "\x01", mixed):
                hostile = clean((token * (size // len(token) + 1))[:size])
                self.assertGreater(len(hostile), LONGEST)
                self.assertLessEqual(len(hostile), MAX_FIELD)
                started = time.thread_time()  # CPU: what others run on the machine is not counted
                found = agents._look_up(hostile)  # not remembered: timed each time
                worst = max(worst, time.thread_time() - started)
                self.assertEqual(found[:2], agents._look_up(hostile[:LONGEST])[:2])
        self.assertEqual(max(seen), LONGEST)
        self.assertLess(worst, 0.025)  # 2 ms measured (the crawler list's match)

    def test_remembered(self) -> None:
        """An agent is looked up once, then remembered."""
        agent = CHROME_WINDOWS + " remembered"
        self.assertIs(agent_of(agent), agent_of(agent))
