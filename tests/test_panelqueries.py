# -*- test-case-name: tests.test_panelqueries -*-
"""Tests for L{weblog.panelqueries}: the history's panels, over a real store of known hits."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from twisted.trial import unittest
from weblog import columns, panelqueries, queries, settings, timebox
from weblog.queries import answer
from weblog.question import Question
from weblog.store import COLUMNS, Store, table_of
from weblog.timebox import TooSlow

from tests.stores import StoreCase

COLUMNS_AT = {name: index for index, (name, _, _) in enumerate(COLUMNS)}

NEWEST = datetime(2015, 5, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def row(resource: str = "/", age: timedelta = timedelta(0), **values: Any) -> tuple[Any, ...]:
    """A stored hit C{age} before NEWEST: a desktop Chrome on Windows in France, unless
    C{values} say otherwise (by column)."""
    hit = {"client": "203.0.113.1", "ident": "-", "user": "-", "time": NEWEST - age,
           "method": "GET", "resource": resource, "protocol": "HTTP/1.1", "status": 200,
           "bytes": 100, "referrer": None, "agent": "Mozilla/5.0", "vhost": None,
           "source": None, "duration": None, "site": None, "bot": False, "own": False,
           "browser": "Chrome", "system": "Windows", "device": "desktop", "country": "FR"}
    if values.get("bot"):
        hit.update(browser="Googlebot", system="Other", device="crawler", country="US")
    hit.update(values)
    return tuple(hit[name] for name, _, _ in COLUMNS)


def spec(question: Question | None = None, **selection: Any) -> dict[str, Any]:
    """A view that counts every status (as the page's form gives it), with C{selection}."""
    chosen = {"limit": 35, "status": "all", "referrer": "any", "q": "", "bots": "include",
              "own": "hide", **selection}
    return {"question": (question or Question()).to_json(), "selection": chosen,
            "given": ["status", "referrer", *selection]}


def nearest_rank(values: list[int], share: float) -> float:
    """The exact percentile, by nearest rank, of durations in µs, in ms."""
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1] / 1000


class PanelTests(StoreCase):
    """Each panel of L{answer} over a store of hits whose counts are known."""

    def test_visitors(self) -> None:
        """A visitor is one client on one UTC day with one user-agent, counted per bucket too."""
        db = self.stored(
            row(age=0 * HOUR), row(age=0 * HOUR), row(age=1 * HOUR),  # one visitor
            row(age=1 * HOUR, agent="curl/8"), row(age=1 * HOUR, client="198.51.100.2"),
            row(age=13 * HOUR))  # the day before: a visitor again
        result = answer(db, spec())
        self.assertEqual(result["visitors"], 4)
        buckets = result["buckets"]
        self.assertEqual(buckets["unit"], "hour")
        self.assertEqual([count for _, count in buckets["counts"]], [1, 3, 2])
        self.assertEqual(buckets["visitors"], [1, 3, 1])

    def test_troubles(self) -> None:
        """404 and 410 resources, and 5xx ones, with their top five referrers each."""
        hits = [row("/gone", status=404, referrer="http://a.example/") for _ in range(3)]
        hits += [row("/gone", status=404, referrer=f"http://{name}.example/")
                 for name in "bcdefg"]
        hits += [row("/gone", status=404), row("/old", status=410),
                 row("/boom", status=503, referrer="=HYPERLINK(\"x\")"),
                 row("/boom", status=500, referrer="=HYPERLINK(\"x\")"), row("/fine")]
        result = answer(self.stored(*hits), spec())
        self.assertEqual(result["not_found"], [
            {"resource": "/gone", "hits": 10, "referrers": [
                ["http://a.example/", 3], ["http://b.example/", 1], ["http://c.example/", 1],
                ["http://d.example/", 1], ["http://e.example/", 1]]},
            {"resource": "/old", "hits": 1, "referrers": []}])
        self.assertEqual(result["server_errors"], [
            {"resource": "/boom", "hits": 2, "referrers": [["=HYPERLINK(\"x\")", 2]]}])

    def test_crawlersApart(self) -> None:
        """Browsers, systems and devices count humans; crawlers have their own panel."""
        db = self.stored(
            row(), row(), row(browser="Mobile Safari", system="iOS", device="mobile"),
            row(browser=None, system=None, device="other"),
            row(bot=True), row(bot=True), row(bot=True, browser="bingbot"),
            row(bot=True, browser=None, agent=None))
        result = answer(db, spec())
        self.assertEqual(result["browsers"], [["Chrome", 2], ["Mobile Safari", 1]])
        self.assertEqual(result["systems"], [["Windows", 2], ["iOS", 1]])
        self.assertEqual(result["devices"], [["desktop", 2], ["mobile", 1], ["other", 1]])
        self.assertEqual(result["crawlers"], {"hits": 4, "top": [["Googlebot", 2],
                                                                 ["bingbot", 1]]})
        self.assertEqual(result["buckets"]["crawlers"], [4])
        only = answer(db, spec(bots="only"))
        self.assertEqual((only["total"], only["browsers"], only["crawlers"]["hits"]),
                         (4, [], 4))
        humans = answer(db, spec(bots="exclude"))
        self.assertEqual((humans["total"], humans["crawlers"]), (4, {"hits": 0, "top": []}))

    def test_countries(self) -> None:
        """Countries as stored: codes, private and unknown among them, most hits first."""
        db = self.stored(row(), row(country="private"), row(country="private"),
                         row(country="unknown"), row(country="DE", client="::1"))
        self.assertEqual(answer(db, spec())["countries"],
                         [["private", 2], ["DE", 1], ["FR", 1], ["unknown", 1]])

    def test_filtersCombine(self) -> None:
        """The new filters name one value each, and combine with the others."""
        db = self.stored(row(country="DE", device="mobile", browser="Mobile Safari"),
                         row(country="DE"), row(country="FR", device="mobile"),
                         row("/x", country="DE", device="mobile", browser="Mobile Safari"))
        both = answer(db, spec(Question(filters=(("device", "mobile"), ("country", "DE")))))
        self.assertEqual((both["total"], both["browsers"]), (2, [["Mobile Safari", 2]]))
        three = answer(db, spec(Question(filters=(("resource", "/x"), ("device", "mobile"),
                                                  ("browser", "Mobile Safari")))))
        self.assertEqual((three["total"], three["countries"]), (1, [["DE", 1]]))
        system = answer(db, spec(Question(filters=(("system", "iOS"),))))
        self.assertEqual(system["total"], 0)

    def test_nothingMatches(self) -> None:
        """A view whose filters match no hit of the store answers every panel empty, in its
        shape: no NULL where a number is due (over no row, DuckDB's count_if() is NULL)."""
        db = self.stored(row(country="DE"), row(bot=True), row("/x", duration=5000))
        for question in (Question(filters=(("country", "ZZ"),)),
                         Question(range=None, start=NEWEST + HOUR, end=NEWEST + 2 * HOUR)):
            result = answer(db, spec(question))
            self.assertEqual(({name: result[name] for name in queries.PANELS}, result["total"]),
                             (queries.EMPTY, 0), question)

    def test_bandwidth(self) -> None:
        """Bytes in all, and the resources that sent the most."""
        db = self.stored(row("/big", bytes=5000), row("/small", bytes=10),
                         row("/small", bytes=10), row("/none", bytes=None))
        result = answer(db, spec())
        self.assertEqual(result["bandwidth"], {"bytes": 5020, "resources": [["/big", 5000],
                                                                            ["/small", 20]]})
        self.assertEqual(result["buckets"]["bytes"], [5020])
        self.assertEqual(result["top"]["resources"][0], ["/small", 2])

    def assertWithin(self, found: float, exact: float, name: str) -> None:
        """C{found} ms is within 1% of C{exact} (and the rounding to 0.1 ms)."""
        self.assertTrue(abs(found - exact) <= exact / 100 + 0.05, f"{name}: {found} for {exact}")

    def test_responseTimes(self) -> None:
        """p50, p95 and p99 in ms, within 1% of the exact nearest rank; resources by time
        spent; each bucket's p95; hits without a duration left out."""
        slow = [1000 * (n + 1) ** 2 for n in range(40)]  # 1 ms to 1.6 s
        fast = [150 + 7 * n for n in range(200)]  # 0.15 to 1.5 ms
        hits = [row("/slow", duration=each) for each in slow]
        hits += [row("/fast", age=HOUR, duration=each) for each in fast]
        hits += [row("/untimed"), row("/zero", duration=0)]
        result = answer(self.stored(*hits), spec())
        times = result["response_times"]
        everything = [*slow, *fast, 0]
        self.assertEqual(times["hits"], 241)
        for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = nearest_rank(everything, share)
            self.assertWithin(times[name], exact, name)
        self.assertEqual([(each["resource"], each["hits"]) for each in times["resources"]],
                         [("/slow", 40), ("/fast", 200), ("/zero", 1)])
        first = times["resources"][0]
        for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            exact = nearest_rank(slow, share)
            self.assertWithin(first[name], exact, name)
        self.assertEqual(result["buckets"]["p95_ms"][0],
                         round(nearest_rank(fast, 0.95), 1))

    def test_noResponseTimes(self) -> None:
        """Without any duration, response_times is null and each bucket's p95 too."""
        result = answer(self.stored(row(), row(age=HOUR)), spec())
        self.assertIsNone(result["response_times"])
        self.assertEqual(result["buckets"]["p95_ms"], [None, None])

    def test_vhostsAndSources(self) -> None:
        """Virtual hosts and source files, always listed (NULL ones left out)."""
        db = self.stored(row(vhost="a.example", source="a.log"),
                         row(vhost="b.example", source="a.log"), row())
        result = answer(db, spec())
        self.assertEqual((result["vhosts"], result["sources"]),
                         ([["a.example", 1], ["b.example", 1]], [["a.log", 2]]))

    def test_top(self) -> None:
        """Each list holds at most C{top} entries."""
        db = self.stored(*(row(f"/{n}", country=f"C{n}", status=404) for n in range(12)))
        small = answer(db, spec(), top=3)
        self.assertEqual([len(small[name]) for name in ("countries", "not_found")], [3, 3])
        self.assertEqual(len(answer(db, spec(), top=1000)["countries"]), 12)

    def test_emptyStore(self) -> None:
        """An empty store answers every panel, empty."""
        result = answer(self.enterContext(self.store.reading()), spec())
        self.assertEqual((result["visitors"], result["browsers"], result["response_times"],
                          result["crawlers"], result["buckets"]["p95_ms"]),
                         (0, [], None, {"hits": 0, "top": []}, []))


class PanelKindsInSqlTests(PanelTests):
    """L{PanelTests} again, with the lists of few values summed in SQL: as a view of more than
    L{panelqueries.KINDS_MOST} kinds has them."""

    def setUp(self) -> None:
        super().setUp()
        self.patch(panelqueries, "KINDS_MOST", 0)


class KindsTests(StoreCase):
    """The lists of few values are the same summed in Python, in SQL from the kinds, or counted
    apart; and answered whatever the kinds."""

    def test_same(self) -> None:
        """Over many kinds (crawlers and humans, NULLs, empty values and values like the
        encoding's marks, sources holding the separator, ties), the three ways give the same
        lists at every C{top}."""
        rng = random.Random(11)
        names = ["", "a", "b", "é", "-", "=", "=x"]
        values: list[dict[str, Any]] = [
            {column: rng.choice([None, *names]) for column in
             ("browser", "system", "device", "country", "vhost")} for _ in range(300)]
        hits = [row(f"/{n}", bot=rng.random() < 0.3, client=f"192.0.2.{n % 7}",
                    source=rng.choice([None, "a.log", "c\x1fd.log", "-", "x\x1f\x1fy"]), **each)
                for n, each in enumerate(values)]
        tied = [row(browser=name, country=name) for name in ("t1", "t2", "t3") for _ in range(9)]
        db = self.stored(*hits, *tied)
        for top in (1, 2, 3, 10):
            python = answer(db, spec(), top=top)
            self.patch(panelqueries, "KINDS_MOST", 0)
            sql = answer(db, spec(), top=top)
            self.patch(panelqueries, "KINDS_SQL_BYTES", -1)
            apart = answer(db, spec(), top=top)
            self.patch(panelqueries, "KINDS_SQL_BYTES", 16 << 20)
            self.patch(panelqueries, "KINDS_MOST", 10_000)
            for name in ("browsers", "systems", "devices", "countries", "vhosts", "sources",
                         "crawlers"):
                self.assertEqual(python[name], sql[name], (name, top))
                self.assertEqual(python[name], apart[name], (name, top))
            self.assertTrue(python["browsers"] and python["crawlers"]["top"])
        whole = answer(db, spec(), top=1000)
        self.assertIn(["-", sum(1 for each in hits if each[COLUMNS_AT["source"]] == "-")],
                      whole["sources"])
        self.assertIn(["t2", 9], whole["browsers"])

    def test_bounds(self) -> None:
        """Past L{panelqueries.KINDS_MOST} kinds or L{panelqueries.KINDS_BYTES} of them, they
        are summed in SQL (one statement more), to the same lists."""
        db = Counting(self.stored(*(row(vhost=f"v{n}.example" * 20) for n in range(20))))
        python = answer(db, spec())  # type: ignore[arg-type]
        in_sql = "GROUPING SETS ((bot, browser)"
        self.assertFalse(any(in_sql in each for each in db.statements))
        for bound, value in (("KINDS_MOST", 19), ("KINDS_BYTES", 1000)):
            kept = getattr(panelqueries, bound)
            self.patch(panelqueries, bound, value)
            db.statements.clear()
            self.assertEqual(answer(db, spec()), python)  # type: ignore[arg-type]
            self.assertEqual(sum(in_sql in each for each in db.statements), 1, bound)
            self.patch(panelqueries, bound, kept)


    def test_hostile(self) -> None:
        """10,000 hits whose hosts (8 KB each) and browsers are all different and long: every
        list is answered in the historian's memory (summed in SQL from the kinds, they ran
        DuckDB out of its 96 MB), each counted apart."""
        smile = "\U0001F600"
        db = Counting(hostile_reading(self, [[
            row(f"/{n}", vhost=f"{n}{smile * 2000}", browser=smile * 500)
            for n in range(10_000)]]))
        result = answer(db, spec())  # type: ignore[arg-type]
        self.assertEqual([count for _, count in result["vhosts"]], [1] * 10)
        self.assertEqual(result["browsers"], [[smile * 500, 10_000]])
        self.assertEqual(sum("UNION ALL (SELECT 'crawlers'" in each for each in db.statements), 1)


def hostile_reading(case: unittest.TestCase, batches: Iterable[list[tuple[Any, ...]]],
                    memory: str = f"{settings.BACKFILL_MEMORY}MiB") -> duckdb.DuckDBPyConnection:
    """A connection to a store of C{batches} of hits (each a batch of one log, one after the
    other), built with memory to spare and then opened as the historian opens it, with
    C{memory} (by default the least it answers with unless told: while it backfills): closed
    when C{case} cleans up."""
    directory = case.mktemp()
    os.mkdir(directory)
    path = os.path.join(directory, "history.duckdb")
    building = Store(path, "512MB", 2)
    start = 0
    for batch in batches:
        building.append("f", "access.log", start, start + len(batch), len(batch),
                        table_of([list(values) for values in zip(*batch, strict=True)]))
        start += len(batch)
    building.close()
    store = Store(path, memory, 2)
    case.addCleanup(store.close)
    return case.enterContext(store.reading())


def varied(count: int) -> list[tuple[Any, ...]]:
    """C{count} varied hits: ties, NULL bytes and referrers, failures, times, crawlers."""
    rng = random.Random(7)
    hits = [row(f"/r{rng.randrange(25)}", referrer=rng.choice(
                [None, *(f"http://s{n % 4}.example/{n}" for n in range(12))]),
                site=None, status=rng.choice([200, 200, 404, 410, 500, 503]),
                bytes=rng.choice([None, 0, 10, 2000]), duration=rng.choice([None, 900, 5000]),
                bot=rng.random() < 0.2, country=rng.choice(["FR", "DE", None]))
            for _ in range(count)]
    return [each[:COLUMNS_AT["site"]] + (columns.site(each[COLUMNS_AT["referrer"]]),)
            + each[COLUMNS_AT["site"] + 1:] for each in hits]


class ApartTests(StoreCase):
    """The panels ranked apart (L{weblog.apart}), as a view DuckDB cannot answer the usual way
    in its memory is: the same lists, and an answer whatever the values."""

    def test_same(self) -> None:
        """Over varied hits (ties, NULL bytes and referrers, failures, times), the lists ranked
        apart are the usual ones, at every C{top}."""
        db = self.stored(*varied(400))

        def out_of_memory(*_: object) -> None:
            raise duckdb.OutOfMemoryException("Out of Memory Error: a test's")

        for top in (1, 3, 10):
            usual = answer(db, spec(), top=top)
            with self.subTest(top=top):
                self.patch(panelqueries, "_many", out_of_memory)
                self.patch(panelqueries, "_troubles", out_of_memory)
                self.patch(panelqueries, "KINDS_MOST", 0)
                self.patch(panelqueries, "KINDS_SQL_BYTES", -1)
                self.assertSame(answer(db, spec(), top=top), usual)
            self.assertTrue(usual["not_found"] and usual["top"]["sites"] and
                            usual["response_times"]["resources"])

    def test_tooSlow(self) -> None:
        """A usual statement past its deadline (L{weblog.timebox}) has its lists ranked apart,
        the same: the lists of many values, the troubles, and those of few values when their
        kinds are counted, or summed in SQL."""
        db = self.stored(*varied(400))
        usual = answer(db, spec(), top=3)

        given_up: list[str] = []

        def too_slow(_: object, seconds: float, sql: str, parameters: object) -> None:
            given_up.append(sql)
            raise TooSlow("a test's")

        self.patch(queries, "within", too_slow)
        self.assertSame(answer(db, spec(), top=3), usual)
        self.assertEqual(len(given_up), 3)  # the lists of many values, the kinds, the troubles
        given_up.clear()
        self.patch(queries, "within", lambda db, seconds, sql, parameters: (
            too_slow(db, seconds, sql, parameters) if "GROUPING(" in sql
            else db.execute(sql, parameters).fetchall()))
        self.patch(panelqueries, "KINDS_MOST", 0)  # the kinds summed in SQL, given up
        self.assertSame(answer(db, spec(), top=3), usual)
        self.assertEqual(len(given_up), 1)

    def test_littleTime(self) -> None:
        """With a deadline of 1 ms (most usual statements interrupted as they run, some not),
        every answer is the same, and no other statement is interrupted: the deadline that
        L{answer} gives is L{timebox.deadline} of the chart's time, for the usual statements
        alone."""
        db = self.stored(*varied(400))
        usual = answer(db, spec())
        charts: list[float] = []
        given_up: list[str] = []

        def little(chart: float) -> float:
            charts.append(chart)
            return 0.001

        def counted(db: duckdb.DuckDBPyConnection, seconds: float, sql: str,
                    parameters: list[Any]) -> list[tuple[Any, ...]]:
            try:
                return timebox.within(db, seconds, sql, parameters)
            except TooSlow:
                given_up.append(sql)
                raise

        self.patch(queries, "deadline", little)
        self.patch(queries, "within", counted)
        for _ in range(20):
            self.assertEqual(answer(db, spec()), usual)
        self.assertEqual(len(charts), 20)
        self.assertTrue(all(0 < chart < 60 for chart in charts), charts)
        self.assertGreater(len(given_up), 0)

    def assertSame(self, apart: dict[str, Any], usual: dict[str, Any]) -> None:
        """Every list of C{apart} is C{usual}'s."""
        for name in ("top", "not_found", "server_errors", "bandwidth", "response_times",
                     "browsers", "systems", "devices", "countries", "crawlers", "vhosts",
                     "sources"):
            self.assertEqual(apart[name], usual[name], name)

    def test_hostile(self) -> None:
        """40,000 hits, each a different 2 KB resource from a different 2 KB referrer, half
        of them 404s: every panel is answered in the historian's memory (the usual statements
        ran DuckDB out of its 96 MB)."""
        result = answer(hostile_reading(self, [[
            row(f"/{n}" + "a" * 2000, referrer=f"http://x{n}/" + "b" * 2000,
                status=404 if n % 2 else 200) for n in range(40_000)]]), spec())
        self.assertEqual((result["total"], len(result["top"]["referrers"]),
                          len(result["top"]["resources"]), len(result["not_found"])),
                         (40_000, 10, 10, 10))
        self.assertEqual(result["not_found"][0]["referrers"][0][1], 1)

    def test_manyHosts(self) -> None:
        """150,000 hits from as many different 2 KB hosts, in random letters (which compress
        little), with the least memory the history may be given (64 MiB): the referrers and
        sites are each ranked apart, one after the other (ranked at once, their groupings ran
        out of that memory, as 250,000 such hits did with 96 MiB, the historian's while it
        backfills)."""
        rng = random.Random(11)
        batches = ([row("/", referrer=f"http://{host}/", site=host)
                    for host in (rng.randbytes(1000).hex() for _ in range(25_000))]
                   for _ in range(6))
        result = answer(hostile_reading(self, batches, "64MiB"), spec())
        self.assertEqual(result["total"], 150_000)
        for name in ("referrers", "sites"):
            listed = result["top"][name]
            self.assertEqual(([count for _, count, *_ in listed],
                              len({key for key, *_ in listed})), ([1] * 10, 10), name)
            self.assertEqual(listed, sorted(listed), name)  # ties: the first keys
        self.assertEqual([visitors for _, _, visitors in result["top"]["sites"]], [1] * 10)

    def test_manyReferrers(self) -> None:
        """One missing resource linked from 60,000 different 2 KB referrers: its first five are
        kept by a bounded aggregate (a window over them ran out of the historian's memory)."""
        result = answer(hostile_reading(self, [[
            row("/gone", referrer=f"http://x/{n:05d}" + "b" * 2000, status=404)
            for n in range(60_000)]]), spec())
        self.assertEqual([(entry["resource"], entry["hits"]) for entry in result["not_found"]],
                         [("/gone", 60_000)])
        self.assertEqual([referrer[:14] for referrer, _ in result["not_found"][0]["referrers"]],
                         [f"http://x/{n:05d}" for n in range(5)])


class Counting:
    """A connection that counts the statements it runs."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self.db = db
        self.statements: list[str] = []

    def execute(self, sql: str, parameters: list[Any]) -> duckdb.DuckDBPyConnection:
        """Run one statement, counted."""
        self.statements.append(sql)
        return self.db.execute(sql, parameters)

    def interrupt(self) -> None:
        """Interrupt the statement under way."""
        self.db.interrupt()


class PanelOverHitsTests(PanelTests):
    """L{PanelTests} again, with each panel's statement over the store's table: as a view of
    more than L{queries.VIEW_MOST} hits is answered."""

    def setUp(self) -> None:
        super().setUp()
        self.patch(queries, "VIEW_MOST", -1)


class PassesTests(StoreCase):
    """How many statements an answer with every panel takes, and that each may be stopped."""

    def test_bounded(self) -> None:
        """The window, the chart, two for the lists (a few kinds), the troubles, two for the
        response times and the latest hits (twice at most): nine statements, whatever the
        panels, when the view has more than L{VIEW_MOST} hits; with fewer, the panels past the
        chart read the view's hits from a table of their own, read once (and dropped after)."""
        hits = [row(f"/{n}", age=n * HOUR, duration=1000 * n, status=404 if n % 3 else 200)
                for n in range(30)]
        db = Counting(self.stored(*hits))
        few = answer(db, spec())  # type: ignore[arg-type]
        self.assertLessEqual(len(db.statements), 11, db.statements)
        self.assertLessEqual(sum(" FROM hits" in each for each in db.statements), 5)
        self.patch(queries, "VIEW_MOST", 29)
        db.statements.clear()
        many = answer(db, spec())  # type: ignore[arg-type]
        self.assertLessEqual(len(db.statements), 9, db.statements)
        self.assertEqual(sum(" FROM hits" in each for each in db.statements), len(db.statements))
        self.assertEqual(few, many)

    def test_late(self) -> None:
        """Once it is late, the next statement is not run."""
        db = Counting(self.stored(row()))
        asked: list[int] = []

        def late() -> bool:
            asked.append(1)
            return len(asked) > 3

        self.assertRaises(duckdb.InterruptException, answer, db, spec(), late)
        self.assertEqual(len(db.statements), 4)  # the view's table read, then dropped
        self.assertTrue(db.statements[-1].startswith("DROP TABLE"), db.statements)
