"""Tests for weblog.traffic and weblog.metrics: the counts, their bounded labels, the page."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.trial import unittest
from twisted.web.test.requesthelper import DummyRequest

from weblog.following import LogFollower
from weblog.logformat import compile_format
from weblog.metrics import MetricsPage
from weblog.records import Records
from weblog.traffic import VHOSTS_MOST, ZEROS, Traffic, method_label, status_class

LINE = ('203.0.113.{n} - - [17/May/2015:10:05:03 +0000] "{method} /{n} HTTP/1.1" {status} {size}'
        ' "-" "Mozilla/5.0"\n')


def line(n: int = 1, method: str = "GET", status: str = "200", size: str = "100") -> str:
    """A combined line."""
    return LINE.format(n=n, method=method, status=status, size=size)


def samples(page: MetricsPage) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The page's samples, parsed by prometheus-client, by name and labels."""
    request = DummyRequest([b""])
    body = page.render_GET(request)  # type: ignore[arg-type]
    found = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


class LabelTests(unittest.TestCase):
    """Labels come from bounded sets, whatever the log says."""

    def test_statusClass(self) -> None:
        """A status is its class; anything else is other."""
        self.assertEqual([status_class(value) for value in (b"200", "404", b"503", "101")],
                         ["2xx", "4xx", "5xx", "1xx"])
        self.assertEqual({status_class(value) for value in (b"-", "600", "099", "20", None)},
                         {"other"})

    def test_method(self) -> None:
        """A known method is its own label; another word, however odd, is other."""
        self.assertEqual(method_label(b"PROPFIND /"), "PROPFIND")
        self.assertEqual(method_label("GET /x"), "GET")
        self.assertEqual({method_label(value) for value in (b"get /", "FOO /", "\x00GET /", "")},
                         {"other"})


class TrafficTests(unittest.TestCase):
    """L{Traffic} counts batches as logged."""

    def test_counts(self) -> None:
        """Lines and malformed by log, hits by class and method, bytes without the C{-}."""
        traffic = Traffic(Clock().seconds)
        traffic.scraped = True
        columns = [[b"GET /a HTTP/1.1", "POST /b HTTP/1.1", b"BREW /c"],
                   [b"200", "500", b"-"], [b"10", "-", b"5"]]
        traffic.fields(("request", "status", "bytes"), timed=False)
        traffic.count("a.log", 5, 2, [*columns, [None] * 3])
        traffic.count("b.log", 1, 0, [])
        self.assertEqual(dict(traffic.lines), {"a.log": 5, "b.log": 1})
        self.assertEqual(dict(traffic.malformed), {"a.log": 2})
        self.assertEqual(traffic.hits(), {**ZEROS, ("2xx", "GET", ""): 1, ("5xx", "POST", ""): 1,
                                          ("other", "other", ""): 1})
        self.assertEqual(traffic.bytes, 15)

    def test_boundedWhateverTheMethods(self) -> None:
        """Ten thousand made-up methods are one label, and what is tallied stays bounded."""
        traffic = Traffic(Clock().seconds)
        traffic.scraped = True
        for start in range(0, 10_000, 1000):
            requests = [f"M{n:06d} /".encode() for n in range(start, start + 1000)]
            traffic.count("a.log", 1000, 0, [requests, [b"200"] * 1000, [b"1"] * 1000,
                                             [None] * 1000])
            self.assertLessEqual(len(traffic._raw), 5096)
        self.assertEqual(traffic.hits(), {**ZEROS, ("2xx", "other", ""): 10_000})

    def test_vhostsBounded(self) -> None:
        """The first L{VHOSTS_MOST} virtual hosts are labels of their own (as shown, without
        their port's digits cut), the others one label; a line without one has C{""}."""
        traffic = Traffic(Clock().seconds)
        traffic.scraped = True
        traffic.fields(("request", "status", "bytes", "vhost"), timed=False)
        vhosts = [b"v%d.example:80" % number for number in range(VHOSTS_MOST + 10)] + [None]
        count = len(vhosts)
        traffic.count("a.log", count, 0, [[b"GET /"] * count, [b"200"] * count,
                                          [b"1"] * count, vhosts])
        hits = traffic.hits()
        self.assertEqual(hits["2xx", "GET", "v0.example:80"], 1)
        self.assertEqual(hits["2xx", "GET", "other"], 10)
        self.assertEqual(hits["2xx", "GET", ""], 1)
        self.assertEqual(len({vhost for _, _, vhost in hits}), VHOSTS_MOST + 2)

    def test_durations(self) -> None:
        """Durations (microseconds) fall in the first bucket whose bound they do not pass."""
        traffic = Traffic(Clock().seconds)
        traffic.scraped = True
        taken = [0, 5000, 5001, 10_000_000, 10_000_001, None]
        self.assertEqual(traffic.fields(("request",), timed=True),
                         ("request", "status", "bytes", "vhost", "duration"))
        traffic.count("a.log", 6, 0, [[b"GET /"] * 6, [b"200"] * 6, [b"1"] * 6, [None] * 6,
                                      taken])
        self.assertEqual(traffic.durations, [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
        self.assertEqual(traffic.duration_sum, 20_010_002)

    def test_lag(self) -> None:
        """The lag is the time since the logs were last read to their end."""
        clock = Clock()
        traffic = Traffic(clock.seconds)
        self.assertEqual(traffic.lag(), 0.0)
        traffic.read_to_end()
        clock.advance(7)
        self.assertEqual(traffic.lag(), 7.0)


class MetricsPageTests(unittest.TestCase):
    """The page gives a real Records' counts in Prometheus' format."""

    def setUp(self) -> None:
        self.path = self.mktemp()
        open(self.path, "w").close()
        self.clock = Clock()
        self.records = Records([LogFollower(self.path)], clock=self.clock)
        self.records.poll()  # opened: what is appended from now on is read
        self.page = MetricsPage(self.records)
        samples(self.page)  # the first scrape: the hits are counted from now on

    def read(self, *lines: str) -> dict[Any, float]:
        """Append C{lines}, read them, and scrape."""
        with open(self.path, "a") as log:
            log.write("".join(lines))
        self.records.catchUp()
        return samples(self.page)

    def test_counts(self) -> None:
        """Lines, malformed, hits by class and method, bytes, as appended."""
        found = self.read(line(1), line(2, "POST", "503", "7"), "not a line\n", line(3, "GET",
                                                                                    "404", "-"))
        source = (("source", self.path),)
        self.assertEqual(found["weblog_lines_total", source], 4)
        self.assertEqual(found["weblog_malformed_total", source], 1)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "2xx"),
                                                     ("vhost", ""))],
                         1)
        self.assertEqual(found["weblog_hits_total", (("method", "POST"),
                                                     ("status_class", "5xx"), ("vhost", ""))], 1)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "4xx"),
                                                     ("vhost", ""))],
                         1)
        self.assertEqual(found["weblog_bytes_total", ()], 107)
        self.assertEqual(found["weblog_log_up", source], 1)
        self.assertEqual(found["weblog_event_streams", ()], 0)
        self.assertEqual(found["weblog_history_state", (("state", "off"),)], 1)
        self.assertNotIn(("weblog_history_hits", ()), found)

    def test_scrapesAreNotHits(self) -> None:
        """A scrape of the metrics is a line read, but not a hit of the site's traffic."""
        found = self.read(line(1).replace("GET /1 ", "GET /metrics.rpy "), line(2))
        self.assertEqual(found["weblog_lines_total", (("source", self.path),)], 2)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "2xx"),
                                                     ("vhost", ""))],
                         1)
        self.assertEqual(self.records.aggregates.total, 1)

    def test_hitsFromTheFirstScrape(self) -> None:
        """Before anything scrapes the metrics only the lines are counted (the hits cost the
        reading a tenth more); from the first scrape on, the hits too."""
        records = Records([LogFollower(self.path)], clock=self.clock)
        records.poll()
        with open(self.path, "a") as log:
            log.write(line(1))
        records.catchUp()
        page = MetricsPage(records)
        found = samples(page)
        self.assertEqual(found["weblog_lines_total", (("source", self.path),)], 1)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "2xx"),
                                                     ("vhost", ""))],
                         0)  # there, at 0, for a rate to see the first hits
        with open(self.path, "a") as log:
            log.write(line(2))
        records.catchUp()
        found = samples(page)
        self.assertEqual(found["weblog_lines_total", (("source", self.path),)], 2)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "2xx"),
                                                     ("vhost", ""))],
                         1)

    def test_refusedOwnRequestsAreHits(self) -> None:
        """Requests for weblog's own pages that it did not answer (a password guessed: 401, a
        probe: 404) are traffic like any other, counted and shown: never hidden as its own."""
        found = self.read(*(line(n).replace(f"GET /{n} ", "GET /metrics.rpy ").replace(
            " 200 ", " 401 ") for n in range(5)), line(9).replace("GET /9 ", "GET /weblog.rpy ")
            .replace(" 200 ", " 404 "))
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "4xx"),
                                                     ("vhost", ""))],
                         6)
        self.assertEqual(self.records.aggregates.total, 6)

    def test_vhosts(self) -> None:
        """The hits of a log that names virtual hosts (C{vhost_combined}) are counted by them,
        beside those of lines that name none."""
        found = self.read('www.example.org:80 ' + line(1), 'blog.example.org:443 ' + line(2),
                          line(3))
        labels = (("method", "GET"), ("status_class", "2xx"))
        for vhost in ("www.example.org:80", "blog.example.org:443", ""):
            self.assertEqual(found["weblog_hits_total", (*labels, ("vhost", vhost))], 1, vhost)

    def test_countsGrow(self) -> None:
        """A second scrape counts what was appended since, once."""
        self.read(line(1))
        found = self.read(line(2), line(3))
        self.assertEqual(found["weblog_lines_total", (("source", self.path),)], 3)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "2xx"),
                                                     ("vhost", ""))],
                         3)

    def test_missingLogIsDown(self) -> None:
        """A log that is not there is 0 in weblog_log_up."""
        records = Records([LogFollower(self.path + ".missing")], clock=self.clock)
        records.catchUp()
        found = samples(MetricsPage(records))
        self.assertEqual(found["weblog_log_up", (("source", self.path + ".missing"),)], 0)

    def test_hostileMethodsAreNotLabels(self) -> None:
        """Requests whose first word is made up add no series."""
        found = self.read(*(line(n, f"X{n}") for n in range(50)))
        methods = {dict(labels).get("method") for name, labels in found
                   if name == "weblog_hits_total" and found[name, labels]}
        self.assertEqual(methods, {"other"})
        self.assertLessEqual(len([name for name, _ in found if name == "weblog_hits_total"]),
                             len(ZEROS))


class ResponseTimeTests(unittest.TestCase):
    """A log whose format says how long each hit took has a response-time histogram."""

    def test_histogram(self) -> None:
        """nginx's $request_time, in seconds: counted in the buckets, summed in seconds."""
        path = self.mktemp()
        open(path, "w").close()
        records = Records([LogFollower(path)], parser=compile_format("nginx_timed"),
                          clock=Clock())
        page = MetricsPage(records)
        samples(page)  # the first scrape
        records.poll()
        with open(path, "a") as log:
            for taken in ("0.003", "0.040", "0.040", "2.000", "-"):
                log.write(line().rstrip("\n") + f" {taken}\n")
        records.catchUp()
        found = samples(page)
        self.assertEqual(found["weblog_response_time_seconds_bucket", (("le", "0.005"),)], 1)
        self.assertEqual(found["weblog_response_time_seconds_bucket", (("le", "0.05"),)], 3)
        self.assertEqual(found["weblog_response_time_seconds_bucket", (("le", "+Inf"),)], 4)
        self.assertEqual(found["weblog_response_time_seconds_count", ()], 4)
        self.assertAlmostEqual(found["weblog_response_time_seconds_sum", ()], 2.083)

    def test_requestInParts(self) -> None:
        """A format that logs the request in parts (nginx's method, URI and protocol) is
        counted by its method, past the point where what is tallied is made labels."""
        path = self.mktemp()
        open(path, "w").close()
        records = Records([LogFollower(path)], clock=Clock(), parser=compile_format(
            '$remote_addr - $remote_user [$time_local] "$request_method $request_uri '
            '$server_protocol" $status $body_bytes_sent'))
        page = MetricsPage(records)
        samples(page)  # the first scrape
        records.poll()
        with open(path, "a") as log:
            for n in range(5000):
                method = "POST" if n % 5 else "BREW"
                log.write(f'203.0.113.9 - - [17/May/2015:10:05:03 +0000] "{method} /r/{n} '
                          'HTTP/1.1" 200 1\n')
        records.catchUp()
        found = samples(page)
        self.assertEqual(records.lines, 5000)
        self.assertEqual(found["weblog_hits_total", (("method", "POST"), ("status_class", "2xx"),
                                                     ("vhost", ""))], 4000)
        self.assertEqual(found["weblog_hits_total", (("method", "other"),
                                                     ("status_class", "2xx"), ("vhost", ""))],
                         1000)

    def test_noneWithoutTimes(self) -> None:
        """A log without times has no histogram."""
        path = self.mktemp()
        open(path, "w").close()
        records = Records([LogFollower(path)], clock=Clock())
        page = MetricsPage(records)
        samples(page)  # the first scrape
        records.poll()
        with open(path, "a") as log:
            log.write(line())
        records.catchUp()
        found = samples(page)
        self.assertEqual(found["weblog_hits_total", (("method", "GET"), ("status_class", "2xx"),
                                                     ("vhost", ""))],
                         1)
        self.assertFalse([key for key in found if key[0].startswith("weblog_response_time")])
