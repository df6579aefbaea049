# -*- test-case-name: tests.test_queries -*-
"""Tests for L{weblog.queries}: a view's window, total, chart, panels and hits, in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from weblog import queries
from weblog.hit import Hit
from weblog.queries import answer, bucket_unit
from weblog.question import Question
from weblog.store import table_of

from tests.stores import StoreCase

NEWEST = datetime(2015, 5, 20, 12, 0, tzinfo=UTC)
UNKNOWN = (None, None, None, None)
"""A stored hit's browser, system, device and country, when they are not asked about."""


def hit(resource: str, age: timedelta, referrer: str | None = None, status: int = 200,
        agent: str = "Mozilla/5.0", client: str = "203.0.113.7") -> Hit:
    """A hit C{age} before NEWEST."""
    return Hit(client, "-", "-", NEWEST - age, "GET", resource, "HTTP/1.1", status, 100,
               referrer, agent, None, None)


def spec(question: Question | None = None, given: tuple[str, ...] = (), **selection: Any
         ) -> dict[str, Any]:
    """A view: the question and the selection (its defaults, and what C{selection} sets)."""
    chosen = {"limit": 35, "status": "200", "referrer": "required", "q": "", "bots": "include",
              "own": "hide", **selection}
    return {"question": (question or Question()).to_json(), "selection": chosen,
            "given": list(given or selection)}


class AnswerTests(StoreCase):
    """L{answer} over a real store of a few hits."""

    def setUp(self) -> None:
        super().setUp()
        minute, day = timedelta(minutes=1), timedelta(days=1)
        hits = [
            (hit("/a", 0 * minute, "http://x.example/1"), "x.example", False, False),
            (hit("/a", 5 * minute, "http://x.example/2"), "x.example", False, False),
            (hit("/b", 30 * minute, "http://y.example/"), "y.example", False, False),
            (hit("/missing", 2 * day, "http://x.example/1", status=404), "x.example", False,
             False),
            (hit("/c", 10 * day, None, agent="Googlebot"), None, True, False),
            (hit("/weblog.rpy", 1 * minute), None, False, True),
        ]
        self.db = self.stored(*((*each, site, bot, own, *UNKNOWN)
                                for each, site, bot, own in hits))

    def test_all(self) -> None:
        """range=all: the store's whole span; every panel; weblog's own hit left out."""
        result = answer(self.db, spec())
        self.assertEqual(result["window"], {"from": (NEWEST - timedelta(days=10)).isoformat(),
                                            "to": NEWEST.isoformat()})
        self.assertEqual(result["total"], 5)
        # each site with its visitors: x.example's client came on two days
        self.assertEqual(result["top"]["sites"], [["x.example", 3, 2], ["y.example", 1, 1]])
        self.assertEqual(result["top"]["resources"][0], ["/a", 2])
        self.assertEqual(result["top"]["statuses"], [["200", 4], ["404", 1]])
        self.assertEqual(result["buckets"]["unit"], "day")
        self.assertEqual(sum(count for _, count in result["buckets"]["counts"]), 5)
        # the list: status 200 with a referrer, newest first
        self.assertEqual([each["resource"] for each in result["hits"]], ["/a", "/a", "/b"])

    def test_visitorsNoMoreThanHits(self) -> None:
        """An estimate of a site's visitors above its hits (HyperLogLog's error can put it
        there) is given as its hits; a site the pass did not see has none."""
        def rows(sql: str, *sites: str) -> list[tuple[str, int]]:
            self.assertIn("approx_count_distinct", sql)
            return [("x.example", 5), ("y.example", 2)]
        self.assertEqual(queries._with_visitors(rows, [["x.example", 3], ["y.example", 4],
                                                       ["z.example", 1]], 8, 0),
                         [["x.example", 3, 3], ["y.example", 4, 2], ["z.example", 1, 0]])

    def test_range(self) -> None:
        """range=1h reaches an hour back from the newest hit; the chart is in minutes."""
        result = answer(self.db, spec(Question("1h")))
        self.assertEqual(result["total"], 3)
        self.assertEqual(result["window"]["from"], (NEWEST - timedelta(hours=1)).isoformat())
        self.assertEqual(result["buckets"]["unit"], "minute")

    def test_fromTo(self) -> None:
        """from and to bound the window; a missing side is the store's own end."""
        question = Question(None, NEWEST - timedelta(days=3), NEWEST - timedelta(days=1))
        result = answer(self.db, spec(question))
        self.assertEqual((result["total"], result["top"]["resources"]), (1, [["/missing", 1]]))

    def test_filtersCombine(self) -> None:
        """Drill-down filters apply to the total, the chart and every panel, and combine."""
        result = answer(self.db, spec(Question(filters=(("site", "x.example"),))))
        self.assertEqual(result["total"], 3)
        self.assertEqual(result["top"]["statuses"], [["200", 2], ["404", 1]])
        # the one site referred every hit of the view: its visitors are the view's
        self.assertEqual((result["top"]["sites"], result["visitors"]), ([["x.example", 3, 2]], 2))
        resource = answer(self.db, spec(Question(filters=(("resource", "/a"),))))
        self.assertEqual(resource["top"]["sites"], [["x.example", 2, 1]])
        both = answer(self.db, spec(Question(filters=(("site", "x.example"),
                                                      ("resource", "/a")))))
        self.assertEqual((both["total"], both["top"]["referrers"]),
                         (2, [["http://x.example/1", 1], ["http://x.example/2", 1]]))

    def test_givenSelectionAppliesToPanels(self) -> None:
        """A status the request gives applies to every panel; bots=exclude leaves crawlers out."""
        result = answer(self.db, spec(status="404"))
        self.assertEqual((result["total"], [each["resource"] for each in result["hits"]]),
                         (1, ["/missing"]))
        self.assertEqual(answer(self.db, spec(bots="exclude", status="all"))["total"], 4)
        crawled = answer(self.db, spec(bots="only", status="all", referrer="any"))
        self.assertEqual((crawled["total"], [each["resource"] for each in crawled["hits"]]),
                         (1, ["/c"]))
        self.assertEqual(answer(self.db, spec(own="show"))["total"], 6)

    def test_empty(self) -> None:
        """An empty store answers an empty view, without a window."""
        self.store.query("DELETE FROM hits")
        result = answer(self.db, spec())
        self.assertEqual((result["window"], result["total"], result["hits"]), (None, 0, []))

    def test_buckets(self) -> None:
        """Each bucket is named by its first moment and counts the hits within it."""
        counts = answer(self.db, spec(Question("24h")))["buckets"]
        self.assertEqual(counts, {"unit": "hour", "counts": [
            [(NEWEST - timedelta(hours=1)).isoformat(), 2], [NEWEST.isoformat(), 1]],
            "visitors": [1, 1], "crawlers": [0, 0], "bytes": [200, 100], "p95_ms": [None, None]})

    def test_weeks(self) -> None:
        """A window longer than 120 days is charted by week, each from a Monday, 00:00 UTC."""
        old = hit("/old", timedelta(days=200))
        self.store.append("w", "old.log", 0, 10, 1, table_of([list(values) for values in zip(
            (*old, None, False, False, *UNKNOWN), strict=True)]))
        counts = answer(self.db, spec(Question("all"), status="all"))["buckets"]
        starts = [datetime.fromisoformat(start) for start, _ in counts["counts"]]
        self.assertEqual(counts["unit"], "week")
        self.assertEqual({(start.weekday(), start.time()) for start in starts},
                         {(0, datetime.min.time())})
        # the old hit's week, the 10-day-old crawler's, and the 2-day-old 404's with the rest
        monday = (NEWEST - timedelta(days=NEWEST.weekday())).replace(hour=0)
        self.assertEqual(counts["counts"][-1], [monday.isoformat(), 4])
        self.assertEqual(sum(count for _, count in counts["counts"]), 6)
        self.assertEqual(len(starts), 3)

    def test_bucketsOfEarlyTimes(self) -> None:
        """Hits before 1970, back to the year 1, fall in their own bucket, not the next one."""
        early = [datetime(1, 1, 1, 0, 0, 30, tzinfo=UTC),
                 datetime(1969, 12, 31, 23, 59, tzinfo=UTC)]
        rows = [(*hit("/old", timedelta(0))._replace(time=moment), None, False, False, *UNKNOWN)
                for moment in early]
        self.store.append("e", "early.log", 0, 10, 2,
                          table_of([list(values) for values in zip(*rows, strict=True)]))
        for moment in early:
            question = Question(None, moment, moment + timedelta(seconds=20))
            counts = answer(self.db, spec(question))["buckets"]
            self.assertEqual((counts["unit"], counts["counts"], counts["visitors"]), (
                "minute", [[moment.replace(second=0).isoformat(), 1]], [1]))
        self.store.query("DELETE FROM hits WHERE time > ?", [early[0]])  # the year 1 alone
        self.assertEqual(answer(self.db, spec(Question("30d"), status="all"))["total"], 1)

    def test_latestBeyondTheLastHour(self) -> None:
        """The list finds the newest hits of the window, those of the last hour or older."""
        listed = answer(self.db, spec(limit=2))["hits"]
        self.assertEqual([each["resource"] for each in listed], ["/a", "/a"])
        older = answer(self.db, spec(status="all", referrer="any", limit=5))["hits"]
        self.assertEqual([each["resource"] for each in older], ["/a", "/a", "/b", "/missing", "/c"])

    def test_bucketUnit(self) -> None:
        """Minutes for up to 3 hours, hours for up to 4 days, days for up to 120, weeks beyond."""
        self.assertEqual([bucket_unit(NEWEST - span, NEWEST) for span in
                          (timedelta(hours=3), timedelta(days=4), timedelta(days=120),
                           timedelta(days=121), timedelta(days=4000))],
                         ["minute", "hour", "day", "week", "week"])


class AnswerOverHitsTests(AnswerTests):
    """L{AnswerTests} again, with each panel's statement over the store's table: as a view of
    more than L{queries.VIEW_MOST} hits is answered."""

    def setUp(self) -> None:
        super().setUp()
        self.patch(queries, "VIEW_MOST", -1)


class PagingTests(StoreCase):
    """The list's C{before} cursor: pages back through hits that share their seconds."""

    def setUp(self) -> None:
        super().setUp()
        # 7 hits: 3 in the newest second, 1 a second earlier, 3 in the second before that
        ages = [0, 0, 0, 1, 2, 2, 2]
        rows = [(*hit(f"/p{number}", timedelta(seconds=age), "http://x.example/"), "x.example",
                 False, False, *UNKNOWN) for number, age in enumerate(reversed(ages))]
        self.db = self.stored(*rows)

    def pages(self, limit: int) -> list[list[str]]:
        """Every page of the list, following each answer's cursor until it is None."""
        pages, before = [], None
        while True:
            result = answer(self.db, spec(Question(before=before), limit=limit))
            pages.append([each["resource"] for each in result["hits"]])
            before = result["before"]
            if before is None:
                return pages

    def test_eachHitOnce(self) -> None:
        """Pages of 2 list every hit once, newest first, though seconds are shared."""
        self.assertEqual(self.pages(2), [["/p6", "/p5"], ["/p4", "/p3"], ["/p2", "/p1"],
                                         ["/p0"]])

    def test_lastPageHasNoCursor(self) -> None:
        """A page that lists the last hits has no cursor; one that does not, has."""
        self.assertIsNone(answer(self.db, spec(limit=7))["before"])
        cursor = answer(self.db, spec(limit=6))["before"]
        self.assertTrue(cursor.startswith((NEWEST - timedelta(seconds=2)).strftime(
            "%Y-%m-%dT%H:%M:%SZ~")), cursor)

    def test_timeAlone(self) -> None:
        """A time alone lists the hits strictly older than it."""
        before = (NEWEST - timedelta(seconds=1)).isoformat()
        result = answer(self.db, spec(Question(before=before), limit=10))
        self.assertEqual([each["resource"] for each in result["hits"]], ["/p2", "/p1", "/p0"])

    def test_newHitsOfTheCursorsSecond(self) -> None:
        """Hits stored after a page, in the second of its cursor, do not shift the next page."""
        first = answer(self.db, spec(limit=2))
        late = (*hit("/late", timedelta(0), "http://x.example/"), "x.example", False, False,
                *UNKNOWN)
        self.db.close()
        self.store.append("g", "other.log", 0, 10, 1,
                          table_of([[value] for value in late]))
        with self.store.reading() as db:
            second = answer(db, spec(Question(before=first["before"]), limit=2))
        self.assertEqual([each["resource"] for each in second["hits"]], ["/p4", "/p3"])
