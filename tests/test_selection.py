# -*- test-case-name: tests.test_selection -*-
"""Tests for selection: query parameters validated into a Selection, and the filter it makes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qs

from twisted.trial import unittest
from weblog.selection import BadQuery, Selection, is_bot, is_own, is_own_logged, parse_query
from webloglib import Hit, parse_line

from tests.support import written

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def hit(
    resource: str = "/index.html",
    referrer: str = "http://example.com/",
    status: int | str = 200,
    agent: str = FIREFOX,
) -> Hit:
    """A hit parsed from one Apache combined line; C{"-"} for no referrer, status or agent."""
    return parse_line(written(f"GET {resource} HTTP/1.1", referrer, agent, status=str(status),
                              size="123"))


def query(**values: str | bytes) -> dict[bytes, list[bytes]]:
    """Request args with one value for each named parameter, text encoded as UTF-8."""
    return {
        name.encode("ascii"): [value if isinstance(value, bytes) else value.encode("utf-8")]
        for name, value in values.items()
    }


class ParseQueryValidTests(unittest.TestCase):
    """parse_query: defaults, and each valid value accepted."""

    def assertAccepted(self, name: str, *values: str) -> None:
        """Each of C{values} given for the parameter C{name} is accepted as given."""
        for value in values:
            self.assertEqual(getattr(parse_query(query(**{name: value})), name), value, value)

    def test_defaults(self) -> None:
        """No parameters give the defaults."""
        selection = parse_query({})
        self.assertEqual(selection, Selection())
        self.assertEqual(
            (selection.limit, selection.status, selection.referrer, selection.q,
             selection.bots, selection.own),
            (35, "200", "required", "", "include", "hide"),
        )

    def test_limit(self) -> None:
        """A limit from 1 to 1000 is accepted as a number."""
        self.assertEqual(parse_query(query(limit="1")).limit, 1)
        self.assertEqual(parse_query(query(limit="1000")).limit, 1000)
        self.assertEqual(parse_query(query(limit="35")).limit, 35)

    def test_status(self) -> None:
        """An exact status, a status class or all is accepted as given."""
        self.assertAccepted("status", "404", "2xx", "all")

    def test_referrer(self) -> None:
        """referrer=any and referrer=required are accepted."""
        self.assertAccepted("referrer", "any", "required")

    def test_q(self) -> None:
        """q is any text, decoded from UTF-8, up to 200 characters (not bytes)."""
        self.assertAccepted("q", "caf\xe9 & <b>", "x" * 200, "\xe9" * 200, "")

    def test_bots(self) -> None:
        """bots=exclude, bots=include and bots=only are accepted."""
        self.assertAccepted("bots", "exclude", "include", "only")

    def test_own(self) -> None:
        """own=show and own=hide are accepted."""
        self.assertAccepted("own", "show", "hide")

    def test_all_at_once(self) -> None:
        """Every parameter given at once makes the matching Selection."""
        self.assertEqual(
            parse_query(query(limit="5", status="5xx", referrer="any", q="/blog",
                              bots="exclude", own="show")),
            Selection(limit=5, status="5xx", referrer="any", q="/blog", bots="exclude",
                      own="show"),
        )


class ParseQueryInvalidTests(unittest.TestCase):
    """parse_query: each invalid parameter raises BadQuery with its one-line reason."""

    def assertBad(self, args: Mapping[bytes, Sequence[bytes]], name: str, message: str) -> None:
        """Assert that C{args} raise BadQuery for C{name} with exactly C{message}."""
        error = self.assertRaises(BadQuery, parse_query, args)
        self.assertEqual(str(error), message)
        self.assertEqual(error.name, name)
        self.assertNotIn("\n", str(error))

    def assertBadLimit(self, value: str, shown: str) -> None:
        """Assert that limit=C{value} is refused, showing it as C{shown}."""
        self.assertBad(query(limit=value), "limit",
                       f"limit: must be a whole number from 1 to 1000, got {shown}")

    def test_bad_query_is_value_error(self) -> None:
        """BadQuery is a ValueError carrying the parameter's name."""
        error = self.assertRaises(ValueError, parse_query, query(limit="0"))
        self.assertIsInstance(error, BadQuery)
        self.assertEqual(BadQuery("q", "why").name, "q")
        self.assertEqual(str(BadQuery("q", "why")), "q: why")

    def test_limit_zero(self) -> None:
        """limit=0 is refused."""
        self.assertBadLimit("0", "'0'")

    def test_limit_too_big(self) -> None:
        """limit=1001 is refused."""
        self.assertBadLimit("1001", "'1001'")

    def test_limit_negative(self) -> None:
        """limit=-1 is refused."""
        self.assertBadLimit("-1", "'-1'")

    def test_limit_not_number(self) -> None:
        """A limit that is not digits is refused."""
        self.assertBadLimit("abc", "'abc'")
        self.assertBadLimit("1e3", "'1e3'")
        self.assertBadLimit(" 5", "' 5'")
        self.assertBadLimit("", "''")

    def test_limit_non_ascii_digits(self) -> None:
        """A limit in non-ASCII digits (which int() would read) is refused."""
        self.assertBadLimit("\u0665", repr("\u0665"))

    def test_limit_huge(self) -> None:
        """5000 digits are refused as BadQuery, not int()'s ValueError, and shown cut short."""
        self.assertBadLimit("9" * 5000, "'" + "9" * 20 + "...'")

    def test_status_word(self) -> None:
        """status=abc is refused."""
        self.assertBad(query(status="abc"), "status",
                       "status: must be a status like 200, a class like 2xx, or all, got 'abc'")

    def test_status_class_out_of_range(self) -> None:
        """status=6xx is refused."""
        self.assertBad(query(status="6xx"), "status",
                       "status: must be a status like 200, a class like 2xx, or all, got '6xx'")

    def test_status_too_short(self) -> None:
        """status=20 is refused."""
        self.assertBad(query(status="20"), "status",
                       "status: must be a status like 200, a class like 2xx, or all, got '20'")

    def test_status_trailing(self) -> None:
        """A valid status followed by more text is refused."""
        self.assertBad(query(status="200\n"), "status",
                       "status: must be a status like 200, a class like 2xx, or all, "
                       "got '200\\n'")

    def test_status_non_ascii_digits(self) -> None:
        """A status with non-ASCII digits is refused, as a limit with them is."""
        self.assertBad(query(status="2\u0660\u0660"), "status",
                       "status: must be a status like 200, a class like 2xx, or all, "
                       "got '2\u0660\u0660'")

    def test_referrer(self) -> None:
        """referrer=no is refused."""
        self.assertBad(query(referrer="no"), "referrer",
                       "referrer: must be required or any, got 'no'")

    def test_repeated(self) -> None:
        """A parameter given twice is refused, even with the same value."""
        self.assertBad({b"limit": [b"5", b"6"]}, "limit", "limit: given more than once")
        self.assertBad({b"own": [b"show", b"show"]}, "own", "own: given more than once")

    def test_unknown(self) -> None:
        """An unknown parameter name is refused, named in the message."""
        self.assertBad({b"sort": [b"x"]}, "sort", "sort: unknown parameter")
        self.assertBad(query(limit="5", Limit="5"), "Limit", "Limit: unknown parameter")

    def test_unknown_long_name(self) -> None:
        """A long unknown name is cut to 40 characters in the message."""
        self.assertBad({b"x" * 100: [b"1"]}, "x" * 40, "x" * 40 + ": unknown parameter")

    def test_non_utf8(self) -> None:
        """A value that is not UTF-8 is refused."""
        self.assertBad(query(q=b"\xff"), "q", "q: is not valid UTF-8")
        self.assertBad(query(status=b"2\xc000"), "status", "status: is not valid UTF-8")

    def test_q_too_long(self) -> None:
        """q of 201 characters is refused, with its length."""
        self.assertBad(query(q="x" * 201), "q", "q: must be at most 200 characters, got 201")

    def test_bots(self) -> None:
        """bots=maybe is refused."""
        self.assertBad(query(bots="maybe"), "bots",
                       "bots: must be include, exclude or only, got 'maybe'")

    def test_own(self) -> None:
        """own=x is refused."""
        self.assertBad(query(own="x"), "own", "own: must be hide or show, got 'x'")


class StatusMatchTests(unittest.TestCase):
    """Selection.matches by status: exact, class, or all."""

    def test_exact(self) -> None:
        """An exact status matches only that status, and not a hit without one."""
        selection = Selection(status="404")
        self.assertTrue(selection.matches(hit(status=404)))
        self.assertFalse(selection.matches(hit(status=200)))
        self.assertFalse(selection.matches(hit(status=410)))
        self.assertFalse(selection.matches(hit(status="-")))

    def test_default(self) -> None:
        """The default selection matches status 200 only."""
        self.assertTrue(Selection().matches(hit(status=200)))
        self.assertFalse(Selection().matches(hit(status=204)))

    def test_class(self) -> None:
        """A class matches every status in its hundred, and not a hit without one."""
        selection = Selection(status="4xx")
        self.assertTrue(selection.matches(hit(status=400)))
        self.assertTrue(selection.matches(hit(status=404)))
        self.assertTrue(selection.matches(hit(status=499)))
        self.assertFalse(selection.matches(hit(status=399)))
        self.assertFalse(selection.matches(hit(status=500)))
        self.assertFalse(selection.matches(hit(status="-")))

    def test_all(self) -> None:
        """all matches every status, and a hit without one."""
        selection = Selection(status="all")
        for status in (200, 301, 404, 500, "-"):
            self.assertTrue(selection.matches(hit(status=status)), status)


class ReferrerMatchTests(unittest.TestCase):
    """Selection.matches by referrer: required or any."""

    def test_required(self) -> None:
        """referrer=required hides a hit without a referrer."""
        self.assertTrue(Selection().matches(hit(referrer="http://example.com/")))
        self.assertFalse(Selection().matches(hit(referrer="-")))

    def test_any(self) -> None:
        """referrer=any shows hits with and without a referrer."""
        selection = Selection(referrer="any")
        self.assertTrue(selection.matches(hit(referrer="http://example.com/")))
        self.assertTrue(selection.matches(hit(referrer="-")))


class SearchMatchTests(unittest.TestCase):
    """Selection.matches by q: a substring of the resource or the referrer."""

    def test_in_resource(self) -> None:
        """q in the resource matches, with or without a referrer."""
        selection = Selection(q="pasta", referrer="any")
        self.assertTrue(selection.matches(hit("/recipes/pasta.html")))
        self.assertTrue(selection.matches(hit("/recipes/pasta.html", referrer="-")))

    def test_in_referrer(self) -> None:
        """q in the referrer matches."""
        selection = Selection(q="pasta")
        self.assertTrue(selection.matches(hit("/index.html", "http://search.example/?q=pasta")))

    def test_in_neither(self) -> None:
        """q in neither the resource nor the referrer does not match."""
        selection = Selection(q="pasta", referrer="any")
        self.assertFalse(selection.matches(hit("/index.html", "http://example.com/")))
        self.assertFalse(selection.matches(hit("/index.html", "-")))

    def test_case_sensitive(self) -> None:
        """q is matched case-sensitively."""
        selection = Selection(q="Pasta")
        self.assertFalse(selection.matches(hit("/recipes/pasta.html", "http://example.com/")))
        self.assertTrue(selection.matches(hit("/recipes/Pasta.html", "http://example.com/")))

    def test_not_in_agent(self) -> None:
        """q is not looked for in the user-agent."""
        self.assertFalse(Selection(q="Firefox").matches(hit(agent=FIREFOX)))


class OwnTests(unittest.TestCase):
    """own=hide hides weblog's own page loads, polls, streams and assets."""

    OWN = ("/weblog.rpy", "/weblog.rpy/json?status=all&q=x", "/weblog.rpy/events",
           "/weblog.rpy?limit=5", "/weblog.rpy/events?since=12&status=4xx", "/weblog.rpy/",
           "/weblog.css", "/weblog.js", "/weblog.rpy/csv?panel=sites&range=all", "/metrics.rpy")
    OTHERS = ("/weblog.html", "/index.html", "/", "/blog/weblog.rpy")
    HIDING = ("/weblog.rpy/../../wp-login.php", "/weblog.js?../../etc/passwd", "/weblog.css#x",
              "/weblog.rpy/json/../../admin", "/weblog.rpy?cmd=rm", "/weblog.rpy/eventsx",
              "/weblog.rpy/json?x", "/weblog.rpyx", "/weblog.rpy#frag",
              "/weblog.rpy/csv/../x", "/weblog.rpy/csv?panel=a&evil=1", "/metrics.rpyx",
              "/metrics.rpy/../x")
    """Requests that only start like weblog's own: an attacker's, to be seen and counted."""

    def test_is_own(self) -> None:
        """is_own is true for weblog's own paths and false for others."""
        for resource in self.OWN:
            self.assertTrue(is_own(hit(resource)), resource)
        for resource in self.OTHERS:
            self.assertFalse(is_own(hit(resource)), resource)

    def test_hide(self) -> None:
        """The default own=hide hides weblog's own paths and keeps others."""
        for resource in self.OWN:
            self.assertFalse(Selection().matches(hit(resource)), resource)
        for resource in self.OTHERS:
            self.assertTrue(Selection().matches(hit(resource)), resource)

    def test_show(self) -> None:
        """own=show shows weblog's own paths too."""
        for resource in self.OWN + self.OTHERS:
            self.assertTrue(Selection(own="show").matches(hit(resource)), resource)

    def test_lookalikes_are_not_own(self) -> None:
        """What merely starts like weblog's own requests is shown and counted like any hit."""
        for resource in self.HIDING:
            self.assertFalse(is_own(hit(resource)), resource)
            self.assertTrue(Selection().matches(hit(resource)), resource)

    def test_unanswered_is_not_own(self) -> None:
        """A request for weblog's own page that it refused (401, 404, 5xx) is not its own: a
        password guessed against it is shown and counted; a 304 is its own."""
        for status, own in ((200, True), (304, True), (401, False), (404, False), (500, False)):
            request = parse_line(f'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET '
                                 f'/metrics.rpy HTTP/1.1" {status} 1 "-" "{FIREFOX}"')
            self.assertEqual(is_own(request), own, status)

    def test_only_get_is_own(self) -> None:
        """A POST (or any method but GET) to weblog's own paths is not weblog's page."""
        for method in ("POST", "HEAD", "PUT"):
            posted = parse_line(f'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "{method} '
                                f'/weblog.rpy HTTP/1.1" 200 1 "http://a/" "{FIREFOX}"')
            self.assertFalse(is_own(posted), method)

    def test_logged_agrees_with_hit(self) -> None:
        """is_own_logged, on the request as logged, says what is_own says of its hit."""
        for resource in self.OWN + self.OTHERS + self.HIDING + ("/weblog.rpy\\x3fq=1",):
            line = (f'203.0.113.7 - - [17/May/2015:10:05:03 +0000] "GET {resource} HTTP/1.1" '
                    f'200 1 "http://a/" "{FIREFOX}"')
            self.assertEqual(is_own_logged(f"GET {resource} HTTP/1.1".encode()),
                             is_own(parse_line(line)), resource)

    def test_similar_names(self) -> None:
        """A resource that only begins like weblog's asset names is not weblog's own."""
        for resource in ("/weblog.json", "/weblog.jsx", "/weblog.cssx"):
            self.assertFalse(is_own(hit(resource)), resource)
            self.assertTrue(Selection().matches(hit(resource)), resource)


class BotTests(unittest.TestCase):
    """bots=exclude hides crawlers and hits without a user-agent."""

    def test_is_bot(self) -> None:
        """is_bot: Googlebot and no agent are bots; desktop Firefox is not."""
        self.assertTrue(is_bot(GOOGLEBOT))
        self.assertTrue(is_bot(None))
        self.assertFalse(is_bot(FIREFOX))

    def test_exclude(self) -> None:
        """bots=exclude hides Googlebot and a hit without an agent, and keeps Firefox."""
        selection = Selection(bots="exclude")
        self.assertFalse(selection.matches(hit(agent=GOOGLEBOT)))
        self.assertFalse(selection.matches(hit(agent="-")))
        self.assertTrue(selection.matches(hit(agent=FIREFOX)))

    def test_only(self) -> None:
        """bots=only keeps Googlebot and a hit without an agent, and hides Firefox."""
        selection = Selection(bots="only")
        self.assertTrue(selection.matches(hit(agent=GOOGLEBOT)))
        self.assertTrue(selection.matches(hit(agent="-")))
        self.assertFalse(selection.matches(hit(agent=FIREFOX)))
        self.assertNotEqual(selection.filter_key(), Selection(bots="exclude").filter_key())

    def test_include(self) -> None:
        """The default bots=include keeps them all."""
        for agent in (GOOGLEBOT, "-", FIREFOX):
            self.assertTrue(Selection().matches(hit(agent=agent)), agent)


class SelectTests(unittest.TestCase):
    """Selection.select: the first C{limit} matching hits, in order."""

    def test_order(self) -> None:
        """Matching hits are kept in their order; others are skipped."""
        hits = [hit(f"/{index}", status=200 if index % 3 else 404) for index in range(10)]
        selected = Selection().select(hits)
        self.assertEqual([h.resource for h in selected], ["/1", "/2", "/4", "/5", "/7", "/8"])

    def test_limit(self) -> None:
        """At most C{limit} hits are kept: the first that match."""
        hits = [hit(f"/{index}") for index in range(10)]
        self.assertEqual([h.resource for h in Selection(limit=3).select(hits)],
                         ["/0", "/1", "/2"])

    def test_stops_at_limit(self) -> None:
        """select reads no further than the hit that reaches the limit."""
        hits = iter([hit("/0"), hit("/1", status=404), hit("/2"), hit("/3"), hit("/4")])
        selected = Selection(limit=2).select(hits)
        self.assertEqual([h.resource for h in selected], ["/0", "/2"])
        self.assertEqual(next(hits).resource, "/3")

    def test_none(self) -> None:
        """No matching hits give an empty list."""
        self.assertEqual(Selection(status="5xx").select([hit(), hit()]), [])
        self.assertEqual(Selection().select([]), [])


class QueryStringTests(unittest.TestCase):
    """Selection.query: the query string that makes a selection, and its round trip."""

    EXAMPLES = (
        Selection(),
        Selection(limit=1),
        Selection(limit=1000, status="all"),
        Selection(status="4xx", referrer="any", own="show"),
        Selection(q="caf\xe9 & <b>=1+2%", bots="exclude"),
        Selection(limit=7, status="301", referrer="any", q="/a b?c", bots="exclude", own="show"),
    )

    def test_defaults(self) -> None:
        """The default selection's query string is empty."""
        self.assertEqual(Selection().query(), "")
        self.assertEqual(Selection(limit=35, status="200", own="hide").query(), "")

    def test_order(self) -> None:
        """Non-defaults come in the order limit, status, referrer, q, bots, own, urlencoded."""
        self.assertEqual(
            Selection(own="show", bots="exclude", q="a b&c", referrer="any", status="all",
                      limit=10).query(),
            "limit=10&status=all&referrer=any&q=a+b%26c&bots=exclude&own=show",
        )

    def test_some(self) -> None:
        """Only the parameters that differ from the defaults are given."""
        self.assertEqual(Selection(q="x", limit=5).query(), "limit=5&q=x")
        self.assertEqual(Selection(q="caf\xe9").query(), "q=caf%C3%A9")

    def test_round_trip(self) -> None:
        """parse_query of a selection's query string, as request args, gives it back."""
        for selection in self.EXAMPLES:
            args = {
                name.encode("utf-8"): [value.encode("utf-8") for value in values]
                for name, values in parse_qs(selection.query()).items()
            }
            self.assertEqual(parse_query(args), selection, selection.query())
