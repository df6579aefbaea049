# -*- test-case-name: tests.test_question -*-
"""Tests for L{weblog.question}: the history parameters of a view, validated."""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.trial import unittest
from weblog.errors import BadQuery
from weblog.question import Question, cursor_of, cursor_text, parse_question


def asked(**params: str | list[str]) -> Question | None:
    """The question of these parameters."""
    args = {name.encode(): [value.encode() for value in (values if isinstance(values, list)
                                                           else [values])]
            for name, values in params.items()}
    return parse_question(args)


class ParseQuestionTests(unittest.TestCase):
    """L{parse_question}: None without history parameters, else a valid Question or a 400."""

    def assertBad(self, reason: str, **params: str | list[str]) -> None:
        """The parameters are refused with C{reason}."""
        self.assertEqual(str(self.assertRaises(BadQuery, asked, **params)), reason)

    def test_none(self) -> None:
        """No history parameter: no question (the live view)."""
        self.assertIsNone(asked(status="404"))

    def test_range(self) -> None:
        """A range, or all by default when only filters are given."""
        self.assertEqual(asked(range="7d"), Question("7d"))
        self.assertEqual(asked(site="x.example"), Question("all", filters=(("site", "x.example"),)))

    def test_fromTo(self) -> None:
        """ISO times, UTC when they name no zone; Z accepted."""
        question = asked(**{"from": "2015-05-17T10:00:00Z", "to": "2015-05-18"})
        assert question is not None
        self.assertEqual((question.range, question.start, question.end),
                         (None, datetime(2015, 5, 17, 10, tzinfo=UTC),
                          datetime(2015, 5, 18, tzinfo=UTC)))

    def test_bad(self) -> None:
        """Each bad value gets its one-line reason."""
        self.assertBad("range: must be one of 1h, 24h, 7d, 30d, all, got '2w'", range="2w")
        self.assertBad("range: cannot be given with from or to", range="7d",
                       **{"from": "2015-05-17"})
        self.assertBad("from: must be an ISO 8601 time like 2026-12-01T10:00:00Z, got 'yesterday'",
                       **{"from": "yesterday"})
        self.assertBad("from: must not be after to (2015-05-18T00:00:00+00:00 > "
                       "2015-05-17T00:00:00+00:00)", **{"from": "2015-05-18", "to": "2015-05-17"})
        self.assertBad("from: must be a time from the year 1 to 9999 in UTC, got "
                       "'0001-01-01T00:00+05:00'", **{"from": "0001-01-01T00:00+05:00"})
        self.assertBad("to: must be a time from the year 1 to 9999 in UTC, got "
                       "'9999-12-31T23:59-01:00'", to="9999-12-31T23:59-01:00")
        self.assertBad("site: must be 1 to 2048 characters, got 0", site="")
        self.assertBad("ref: given more than once", ref=["a", "b"])
        self.assertBad("country: must be 1 to 2048 characters, got 0", country="")
        self.assertBad("browser: given more than once", browser=["Chrome", "Opera"])

    def test_foundFilters(self) -> None:
        """browser, system, device and country are filters too, each alone a view of all."""
        question = asked(country="FR", device="mobile", browser="Mobile Safari", system="iOS")
        self.assertEqual(question, Question("all", filters=(
            ("browser", "Mobile Safari"), ("system", "iOS"), ("device", "mobile"),
            ("country", "FR"))))

    def test_country(self) -> None:
        """A country is a code in any case (as the store holds it: in capitals), private or
        unknown; anything else is a 400 rather than a view that matches nothing."""
        for given, held in (("us", "US"), ("Fr", "FR"), ("ZZ", "ZZ"), ("Private", "private"),
                            ("unknown", "unknown")):
            self.assertEqual(asked(country=given), Question("all", filters=(("country", held),)))
        for given in ("usa", "U", "é1", "u s", "privat"):
            self.assertBad("country: must be an ISO 3166 alpha-2 code (such as US), private or "
                           f"unknown, got {given!r}", country=given)

    def test_filtersInOrder(self) -> None:
        """Filters come in FILTERS' order whatever the query's."""
        question = asked(source="b.log", resource="/x", client="1.2.3.4")
        assert question is not None
        self.assertEqual(question.filters,
                         (("resource", "/x"), ("client", "1.2.3.4"), ("source", "b.log")))

    def test_before(self) -> None:
        """A cursor is a time, or a time and a row; alone it is a view of all the history."""
        self.assertEqual(asked(before="2015-05-17T10:00:00Z~42"),
                         Question("all", before="2015-05-17T10:00:00Z~42"))
        self.assertEqual(cursor_of("2015-05-17T10:00:00Z~42"),
                         (datetime(2015, 5, 17, 10, tzinfo=UTC), 42))
        self.assertEqual(cursor_of("2015-05-17T10:00:00"), (datetime(2015, 5, 17, 10, tzinfo=UTC),
                                                            None))
        moment = datetime(2015, 5, 17, 10, 0, 1, tzinfo=UTC)
        self.assertEqual(cursor_of(cursor_text(moment, 7)), (moment, 7))

    def test_badBefore(self) -> None:
        """A cursor that is not one gets a 400 naming before."""
        reason = ("before: must be an ISO 8601 time like 2026-12-01T10:00:00Z, or the 'before' "
                  "of a view's JSON, got '2015-05-17~x'")
        self.assertBad(reason, before="2015-05-17~x")
        self.assertBad("before: must be an ISO 8601 time like 2026-12-01T10:00:00Z, got 'soon'",
                       before="soon~3")
        self.assertBad("before: given more than once", before=["2015-05-17", "2015-05-18"])
