# -*- test-case-name: tests.test_aggregates -*-
"""Tests for L{weblog.aggregates}: the top lists, in bounded memory, and hits per minute."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

from twisted.trial import unittest
from weblog import parsing
from weblog.aggregates import MINUTES, Aggregates
from weblog.parsing import Logged, read_line
from webloglib import MAX_FIELD, parse_line

from tests.support import written

NEWEST = datetime(2015, 5, 17, 10, 5, tzinfo=UTC)
"""The minute most tests count up to."""


def stamp(when: datetime, seconds: int = 3) -> str:
    """An access-log time for C{when} plus C{seconds}, in C{when}'s own zone."""
    return (when + timedelta(seconds=seconds)).strftime("%d/%b/%Y:%H:%M:%S %z")


def hit(
    resource: str = "/index.html",
    referrer: str = "http://example.com/",
    status: int | str = 200,
    time: str = "17/May/2015:10:05:03 +0000",
    agent: str = "Mozilla/5.0",
) -> Logged:
    """One Apache combined line, as read; C{"-"} for no referrer or status."""
    return read_line(written(f"GET {resource} HTTP/1.1", referrer, agent, status=str(status),
                             size="123", time=time).encode())


def at(when: datetime, seconds: int = 3) -> Logged:
    """A line at C{when} (plus C{seconds})."""
    return hit(time=stamp(when, seconds))


def logged(request: bytes, status: bytes, referrer: bytes | None) -> Logged:
    """A line as read, of only what the counts look at."""
    return Logged(b"1.2.3.4", b"-", b"-", b"17/May/2015:10:05:03 +0000", request, status, b"1",
                  referrer, None, None)


def window(counts: dict[datetime, int], newest: datetime = NEWEST) -> list[tuple[datetime, int]]:
    """The 60 (minute, hits) pairs ending at C{newest}, zero where C{counts} has none."""
    starts = [newest - timedelta(minutes=MINUTES - 1 - index) for index in range(MINUTES)]
    return [(start, counts.get(start, 0)) for start in starts]


class TopListTests(unittest.TestCase):
    """Aggregates.add: exact top lists, statuses and the total while under the cap."""

    def setUp(self) -> None:
        self.aggregates = Aggregates()
        self.aggregates.count([
            hit("/a", "http://example.com/1", 200),
            hit("/a", "http://Example.COM:8080/2", 404),
            hit("/b", "http://other.org/", 200),
            hit("/a", "-", "-"),
            hit("/c", "http://example.com/1", 200),
            hit("/b", "http://example.com/1", 301),
            hit("/a", "not a url", 200),
        ])
        self.top = self.aggregates.to_json()["top"]

    def test_sites(self) -> None:
        """Sites are counted by host, most common first; a referrer naming no host adds none."""
        self.assertEqual(self.top["sites"], [("example.com", 4), ("other.org", 1)])

    def test_referrers(self) -> None:
        """Referrers are counted as logged, most common first, ties in the order first seen."""
        self.assertEqual(self.top["referrers"], [
            ("http://example.com/1", 3),
            ("http://Example.COM:8080/2", 1),
            ("http://other.org/", 1),
            ("not a url", 1),
        ])

    def test_resources(self) -> None:
        """Resources are counted for every hit, with or without a referrer."""
        self.assertEqual(self.top["resources"], [("/a", 4), ("/b", 2), ("/c", 1)])

    def test_statuses(self) -> None:
        """Statuses are counted as text, sorted, with C{"-"} for a hit without one."""
        self.assertEqual(
            self.top["statuses"], [("-", 1), ("200", 4), ("301", 1), ("404", 1)]
        )

    def test_total(self) -> None:
        """The total counts every hit added."""
        self.assertEqual(self.aggregates.total, 7)
        self.assertEqual(self.aggregates.to_json()["total"], 7)

    def test_exact(self) -> None:
        """Under the cap the lists are exact, not approximate."""
        self.assertIs(self.top["approximate"], False)

    def test_top_limit(self) -> None:
        """to_json(top=n) gives at most n entries per top list."""
        top = self.aggregates.to_json(top=2)["top"]
        self.assertEqual(top["resources"], [("/a", 4), ("/b", 2)])
        self.assertEqual(top["referrers"], [
            ("http://example.com/1", 3), ("http://Example.COM:8080/2", 1),
        ])

    def test_add_in_parts(self) -> None:
        """Adding hits in several calls counts the same as adding them at once."""
        aggregates = Aggregates()
        aggregates.count([hit("/a")])
        aggregates.count([])
        aggregates.count([hit("/a"), hit("/b")])
        self.assertEqual(aggregates.to_json()["top"]["resources"], [("/a", 2), ("/b", 1)])
        self.assertEqual(aggregates.total, 3)


class NoReferrerTests(unittest.TestCase):
    """A hit without a referrer counts in resources and statuses, not in sites or referrers."""

    def test_no_referrer(self) -> None:
        """Only the resource, status, minute and total count a hit logged with referrer C{-}."""
        aggregates = Aggregates()
        aggregates.count([hit("/x", "-", 200)])
        top = aggregates.to_json()["top"]
        self.assertEqual(top["sites"], [])
        self.assertEqual(top["referrers"], [])
        self.assertEqual(top["resources"], [("/x", 1)])
        self.assertEqual(top["statuses"], [("200", 1)])
        self.assertEqual(aggregates.total, 1)
        self.assertEqual(aggregates.per_minute()[-1], (NEWEST, 1))


class BoundedMemoryTests(unittest.TestCase):
    """Top lists hold at most C{cap} keys, keeping the most common."""

    def test_exact_up_to_cap(self) -> None:
        """C{cap} distinct keys are all kept with exact counts, and not approximate."""
        aggregates = Aggregates(cap=10)
        aggregates.count(hit(f"/r{index}") for index in range(10))
        self.assertEqual(len(aggregates.counts("resources")), 10)
        self.assertEqual(
            aggregates.to_json(top=10)["top"]["resources"],
            [(f"/r{index}", 1) for index in range(10)],
        )
        self.assertIs(aggregates.to_json()["top"]["approximate"], False)

    def test_bounded(self) -> None:
        """1000 distinct resources never leave the list holding more than C{cap} keys."""
        aggregates = Aggregates(cap=10)
        sizes = []
        for index in range(1000):
            aggregates.count([hit(f"/r{index}")])
            if index % 2 == 0:
                aggregates.count([hit("/popular")])
            sizes.append(len(aggregates.counts("resources")))
        self.assertLessEqual(max(sizes), 10)
        self.assertEqual(aggregates.total, 1500)
        top = aggregates.to_json()["top"]
        self.assertIs(top["approximate"], True)
        popular, count = top["resources"][0]
        self.assertEqual(popular, "/popular")
        self.assertTrue(0 < count <= 500, count)
        self.assertEqual([other for _, other in top["resources"][1:] if other >= count], [])

    def test_bounded_in_one_call(self) -> None:
        """1000 distinct resources added in one call leave at most C{cap} keys after it."""
        aggregates = Aggregates(cap=10)
        aggregates.count(hit("/popular") if index % 3 == 0 else hit(f"/r{index}")
                       for index in range(1500))
        self.assertLessEqual(len(aggregates.counts("resources")), 10)
        top = aggregates.to_json()["top"]
        popular, count = top["resources"][0]
        self.assertEqual(popular, "/popular")
        self.assertTrue(0 < count <= 500, count)
        self.assertIs(top["approximate"], True)

    def test_referrers_bounded(self) -> None:
        """Distinct referrers bound the referrer and site lists too, and make them approximate."""
        aggregates = Aggregates(cap=10)
        for index in range(100):
            aggregates.count([hit(referrer=f"http://site{index}.example/")])
            self.assertLessEqual(len(aggregates.counts("referrers")), 10)
            self.assertLessEqual(len(aggregates.to_json(top=100)["top"]["sites"]), 10)
        self.assertEqual(aggregates.to_json()["top"]["resources"], [("/index.html", 100)])
        self.assertIs(aggregates.to_json()["top"]["approximate"], True)

    def test_site_of_distinct_referrers(self) -> None:
        """A site whose every referrer URL is distinct still leads the sites it outnumbers."""
        aggregates = Aggregates(cap=10)
        for index in range(100):
            aggregates.count([hit(referrer=f"http://search.example/?q={index}")])
            if index % 20 == 0:
                aggregates.count([hit(referrer="http://small.example/")])
        # search.example: 100 hits from 100 URLs; small.example: 5 hits from one URL.
        sites = aggregates.to_json()["top"]["sites"]
        self.assertEqual(sites[0][0], "search.example")

    def test_late_leader(self) -> None:
        """A resource that becomes the most requested after the list has filled reaches the top."""
        aggregates = Aggregates(cap=10)
        for early in range(5):
            aggregates.count(hit(f"/early{early}") for _ in range(20))
        for index in range(1000):
            aggregates.count([hit(f"/once{index}")])
            if index % 2 == 0:
                aggregates.count([hit("/late")])
        # /late: 500 hits; each /early: 20; each /once: 1.
        top = aggregates.to_json()["top"]["resources"]
        self.assertEqual(top[0][0], "/late")


class CountTests(unittest.TestCase):
    """Aggregates.count: lines as read, their keys shown as hits show them."""

    LINE = (b'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /a?x=1 HTTP/1.1" 200 123 '
            b'"http://Example.COM:8080/p" "Mozilla/5.0"')

    def test_shownAsHits(self) -> None:
        """A line's keys are counted as its hit shows them."""
        aggregates = Aggregates()
        aggregates.count([read_line(self.LINE), read_line(self.LINE.decode())])
        top = aggregates.to_json()["top"]
        self.assertEqual(top["resources"], [("/a?x=1", 2)])
        self.assertEqual(top["referrers"], [("http://Example.COM:8080/p", 2)])
        self.assertEqual(top["sites"], [("example.com", 2)])
        self.assertEqual(top["statuses"], [("200", 2)])
        self.assertEqual(aggregates.total, 2)
        self.assertEqual(aggregates.per_minute()[-1], (NEWEST, 2))

    def test_raw_no_referrer(self) -> None:
        """A raw referrer of C{-} counts in no referrer or site list."""
        aggregates = Aggregates()
        aggregates.count([logged(b"GET / HTTP/1.1", b"-", b"-"),
                          logged(b"GET / HTTP/1.1", b"200", None)])
        top = aggregates.to_json()["top"]
        self.assertEqual(top["referrers"], [])
        self.assertEqual(top["sites"], [])
        self.assertEqual(top["resources"], [("/", 2)])
        self.assertEqual(top["statuses"], [("-", 1), ("200", 1)])


class LongKeyTests(unittest.TestCase):
    """Requests and referrers longer than MAX_FIELD are counted as shown, so lists stay small."""

    LINE = (b'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET /' + b"a" * 10_000
            + b' HTTP/1.1" 200 123 "http://long.example/' + b"b" * 10_000 + b'" "Mozilla/5.0"')

    def test_long_keys(self) -> None:
        """Long keys are kept in bounded size, as shown, the same line as bytes or text together."""
        aggregates = Aggregates()
        aggregates.count([read_line(self.LINE), read_line(self.LINE)])
        aggregates.count([read_line(self.LINE.decode())])
        for name in ("resources", "referrers"):
            self.assertEqual([len(key) <= MAX_FIELD + 1 for key in aggregates.counts(name)],
                             [True])
        shown = parse_line(self.LINE)
        top = aggregates.to_json()["top"]
        self.assertEqual(top["resources"], [(shown.resource, 3)])
        self.assertEqual(top["referrers"], [(shown.referrer, 3)])
        self.assertEqual(top["sites"], [("long.example", 3)])
        self.assertTrue(shown.referrer and shown.referrer.endswith("\u2026"))


class PerMinuteTests(unittest.TestCase):
    """Aggregates.per_minute: the last hour of log time, in minutes, whatever the order."""

    def test_empty(self) -> None:
        """With no hits there are no minutes."""
        self.assertEqual(Aggregates().per_minute(), [])

    def test_sixty_minutes(self) -> None:
        """Sixty minutes, oldest first, end at the newest minute seen, starts in aware UTC."""
        aggregates = Aggregates()
        aggregates.count([at(NEWEST), at(NEWEST, 59), at(NEWEST - timedelta(minutes=2)),
                          at(NEWEST)])
        minutes = aggregates.per_minute()
        self.assertEqual(len(minutes), 60)
        self.assertEqual(minutes, window({NEWEST: 3, NEWEST - timedelta(minutes=2): 1}))
        self.assertEqual(minutes[0][0], datetime(2015, 5, 17, 9, 6, tzinfo=UTC))
        self.assertEqual(minutes[-1][0], datetime(2015, 5, 17, 10, 5, tzinfo=UTC))
        for start, _ in minutes:
            self.assertEqual(start.utcoffset(), timedelta(0))

    def test_out_of_order(self) -> None:
        """An older minute after a newer one counts in its own minute, within the hour."""
        aggregates = Aggregates()
        aggregates.count([
            at(NEWEST),
            at(NEWEST - timedelta(minutes=4)),
            at(NEWEST),
            at(NEWEST - timedelta(minutes=59)),
            at(NEWEST - timedelta(minutes=4), 30),
        ])
        self.assertEqual(aggregates.per_minute(), window({
            NEWEST: 2,
            NEWEST - timedelta(minutes=4): 2,
            NEWEST - timedelta(minutes=59): 1,
        }))

    def test_older_than_hour(self) -> None:
        """A hit 60 or more minutes before the newest minute is not counted per minute."""
        aggregates = Aggregates()
        aggregates.count([
            at(NEWEST),
            at(NEWEST - timedelta(minutes=60), 59),
            at(NEWEST - timedelta(hours=5)),
        ])
        self.assertEqual(aggregates.per_minute(), window({NEWEST: 1}))
        self.assertEqual(len(aggregates.minutes), 1)
        self.assertEqual(aggregates.total, 3)

    def test_newer_drops_old(self) -> None:
        """A much newer hit drops the minutes that fall out of its hour."""
        aggregates = Aggregates()
        aggregates.count([at(NEWEST), at(NEWEST - timedelta(minutes=30))])
        later = NEWEST + timedelta(minutes=45)
        aggregates.count([at(later)])
        self.assertEqual(aggregates.per_minute(), window({NEWEST: 1, later: 1}, later))
        self.assertEqual(len(aggregates.minutes), 2)
        much_later = NEWEST + timedelta(days=1)
        aggregates.count([at(much_later)])
        self.assertEqual(aggregates.per_minute(), window({much_later: 1}, much_later))
        self.assertEqual(len(aggregates.minutes), 1)

    def test_bounded(self) -> None:
        """Hits over many hours never keep more than 60 minutes."""
        aggregates = Aggregates()
        for minute in range(300):
            aggregates.count([at(NEWEST + timedelta(minutes=minute))])
            self.assertLessEqual(len(aggregates.minutes), 60)
        last = NEWEST + timedelta(minutes=299)
        self.assertEqual(aggregates.per_minute(), [(start, 1) for start, _ in window({}, last)])

    def test_time_zones(self) -> None:
        """Lines in other zones are bucketed by absolute time, shown in UTC."""
        aggregates = Aggregates()
        aggregates.count([
            hit(time="17/May/2015:10:05:40 +0000"),
            hit(time="17/May/2015:11:05:03 +0100"),
            hit(time="17/May/2015:05:35:59 -0430"),
            hit(time="17/May/2015:11:04:59 +0100"),
        ])
        self.assertEqual(
            aggregates.per_minute(), window({NEWEST: 3, NEWEST - timedelta(minutes=1): 1})
        )
        self.assertEqual(aggregates.per_minute()[-1][0].tzinfo, UTC)


class ToJSONTests(unittest.TestCase):
    """Aggregates.to_json: the shape the page and the JSON poll use."""

    def setUp(self) -> None:
        self.aggregates = Aggregates()
        self.aggregates.count([
            hit("/a", "http://example.com/"),
            hit("/b", "-", "-", stamp(NEWEST - timedelta(minutes=1))),
        ])
        self.json = self.aggregates.to_json()

    def test_keys(self) -> None:
        """The top level has top, per_minute and total; top has its five lists and flag."""
        self.assertEqual(set(self.json), {"top", "per_minute", "total"})
        self.assertEqual(
            set(self.json["top"]), {"sites", "referrers", "resources", "statuses", "approximate"}
        )

    def test_per_minute(self) -> None:
        """per_minute is 60 [ISO 8601 minute start, hits] pairs, oldest first."""
        per_minute = self.json["per_minute"]
        self.assertEqual(len(per_minute), 60)
        self.assertEqual(per_minute[0], ["2015-05-17T09:06:00+00:00", 0])
        self.assertEqual(per_minute[-2], ["2015-05-17T10:04:00+00:00", 1])
        self.assertEqual(per_minute[-1], ["2015-05-17T10:05:00+00:00", 1])

    def test_dumps(self) -> None:
        """json.dumps encodes it, and it decodes to the same values."""
        decoded = json.loads(json.dumps(self.json))
        self.assertEqual(decoded["total"], 2)
        self.assertEqual(decoded["top"], {
            "sites": [["example.com", 1]],
            "referrers": [["http://example.com/", 1]],
            "resources": [["/a", 1], ["/b", 1]],
            "statuses": [["-", 1], ["200", 1]],
            "approximate": False,
        })
        self.assertEqual(decoded["per_minute"][-1], ["2015-05-17T10:05:00+00:00", 1])

    def test_empty(self) -> None:
        """With no hits: empty lists, no minutes, a total of 0, and JSON that encodes."""
        self.assertEqual(json.loads(json.dumps(Aggregates().to_json())), {
            "top": {"sites": [], "referrers": [], "resources": [], "statuses": [],
                    "approximate": False},
            "per_minute": [],
            "total": 0,
        })


class CleanedOnceTests(unittest.TestCase):
    """Each key is cleaned when first counted, never again when the top lists are read."""

    def test_top_lists_do_not_clean(self) -> None:
        """Reading the top lists of 4,999 escape-laden keys calls no cleaning function."""
        aggregates = Aggregates()
        escaped = b"\\x01" * 125
        aggregates.count(
            logged(b"GET /" + escaped + b"%d HTTP/1.1" % index, b"200",
                   b"http://a.example/" + escaped + b"%d" % index)
            for index in range(4999)
        )
        with mock.patch("weblog.parsing.clean", side_effect=AssertionError("cleaned again")):
            top = aggregates.top()
        self.assertEqual(len(top["resources"]), 10)
        self.assertTrue(top["resources"][0][0].startswith("/\\x01\\x01"))
        self.assertEqual(top["sites"], [("a.example", 4999)])

    def test_key_cleaned_at_first_count_only(self) -> None:
        """A key counted a thousand times is cleaned once."""
        aggregates = Aggregates()
        calls = []
        real = parsing.clean

        def counting(text: str) -> str:
            calls.append(text)
            return real(text)

        fresh = os.urandom(8).hex().encode()  # a key no memo of an earlier test holds
        with mock.patch("weblog.parsing.clean", counting):
            aggregates.count(logged(b"GET /\\x01" + fresh + b" HTTP/1.1", b"200",
                                    b"http://a/\\x01" + fresh) for _ in range(1000))
        self.assertEqual(len(calls), 2)  # the request once, the referrer once


class RememberedTests(unittest.TestCase):
    """What the panels remember of values as logged stays bounded by what they count."""

    def test_distinctLongValues(self) -> None:
        """12,000 distinct 2 KB requests and referrers: each panel remembers at most cap."""
        aggregates = Aggregates(cap=1000)
        for start in range(0, 12_000, 500):
            aggregates.count(
                logged(b"GET /" + b"r" * 2000 + b"%d HTTP/1.1" % index, b"200",
                       b"http://a%d.example/" % index + b"f" * 2000)
                for index in range(start, start + 500))
        for tally in aggregates.tallies:
            self.assertLessEqual(len(tally.counts), 1000, tally.panel.name)
            self.assertLessEqual(len(tally.shown) + len(tally.long), 2 * 1000 + 2,
                                 tally.panel.name)
