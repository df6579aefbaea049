# -*- test-case-name: tests.test_timestamps -*-
"""Tests for L{weblog.timestamps}: access-log time stamps checked and read, through a cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from twisted.trial import unittest
from weblog.aggregates import Aggregates
from weblog.errors import LogLineError
from weblog.hit import json_text
from weblog.parsing import parse_line, read_line
from weblog.timestamps import minute_of, parse_time


class TimeRangeTests(unittest.TestCase):
    """A timestamp whose instant is not a date in UTC (before year 1, after 9999) is malformed."""

    def line(self, when: str) -> bytes:
        """A combined line at C{when}."""
        return (f'1.2.3.4 - - [{when}] "GET /f HTTP/1.1" 200 1 "http://a/" "ua"').encode()

    def test_pastYear9999InUtc(self):
        """31/Dec/9999:23:59:59 -2359 is year 10000 in UTC: malformed, for both parsers."""
        for parse in (parse_line, read_line):
            error = self.assertRaises(LogLineError, parse, self.line("31/Dec/9999:23:59:59 -2359"))
            self.assertIn("time out of range", str(error))

    def test_beforeYear1InUtc(self):
        """01/Jan/0001:00:00:00 +0100 is year 0 in UTC: malformed."""
        for parse in (parse_line, read_line):
            self.assertRaises(LogLineError, parse, self.line("01/Jan/0001:00:00:00 +0100"))

    def test_extremesInRange(self):
        """The first and last representable instants parse, and chart and JSON can show them."""
        for when in ("31/Dec/9999:23:59:59 +0000", "01/Jan/0001:00:00:00 -0100"):
            hit = parse_line(self.line(when))
            aggregates = Aggregates()
            aggregates.count([read_line(self.line(when)), read_line(self.line(when))])
            self.assertEqual(aggregates.per_minute()[-1][1], 2)
            json_text(aggregates.to_json())
            json_text(hit.to_json())


class ParseTimeTests(unittest.TestCase):
    """L{parse_time} and L{minute_of}: a stamp's time in its own zone, and its minute."""

    def test_ownZone(self):
        """The time is aware, in the stamp's own offset, as text or bytes."""
        for stamp in ("10/Oct/2000:13:55:36 -0700", b"10/Oct/2000:13:55:36 -0700"):
            when = parse_time(stamp)
            self.assertEqual(when, datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC))
            self.assertEqual(when.utcoffset(), timedelta(hours=-7))

    def test_everySecondOfAMinute(self):
        """Stamps of one minute (read through its cached start) keep their own seconds."""
        zone = timezone(timedelta(hours=1))
        for second in (0, 1, 30, 59):
            stamp = f"17/May/2015:10:05:{second:02d} +0100"
            self.assertEqual(parse_time(stamp), datetime(2015, 5, 17, 10, 5, second, tzinfo=zone))
            self.assertEqual(minute_of(stamp), int(parse_time(stamp).timestamp()) // 60)
        self.assertEqual(minute_of("17/May/2015:10:05:59 +0000") + 1,
                         minute_of("17/May/2015:10:06:00 +0000"))

    def test_unusualStamps(self):
        """A one-digit day and a zone written with a colon are read too."""
        self.assertEqual(parse_time("7/May/2015:10:05:03 +0000"),
                         datetime(2015, 5, 7, 10, 5, 3, tzinfo=UTC))
        self.assertEqual(parse_time("17/May/2015:10:05:03 +01:00").utcoffset(), timedelta(hours=1))
        self.assertEqual(minute_of("17/May/2015:10:05:03 +01:00"),
                         minute_of("17/May/2015:09:05:03 +0000"))

    def test_notAStamp(self):
        """What is not a valid stamp is a ValueError, from the cached path and the full one."""
        for stamp in ("17/Foo/2015:10:05:03 +0000", "17/May/2015:10:05:60 +0000",
                      "17/May/2015:24:05:03 +0000", "17/May/2015:10:05:03", "yesterday",
                      b"17/May/2015:10:05:0x +0000", "31/Feb/2015:10:05:03 +0000"):
            self.assertRaises(ValueError, parse_time, stamp)
            self.assertRaises(ValueError, minute_of, stamp)

    def test_badValueNamed(self):
        """A bad month, zone or stamp is named in the message."""
        for stamp, message in (
            ("17/Foo/2015:10:05:03 +0000", "unknown month 'Foo'"),
            ("17/May/2015:10:05:03 +0160", "time zone offset out of range: +0160"),
            ("17/May/2015:10:05:03 UTC", "not a log timestamp: '17/May/2015:10:05:03 UTC'"),
        ):
            error = self.assertRaises(ValueError, parse_time, stamp)
            self.assertEqual(str(error), message)
