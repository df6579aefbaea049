# -*- test-case-name: tests.test_hit -*-
"""Tests for L{weblog.hit}: a hit's JSON, the JSON text safe in HTML, and counts' digits."""

from __future__ import annotations

import json

from twisted.trial import unittest
from weblog.hit import DIGITS, count_of, json_text
from weblog.parsing import parse_line

from tests.support import APACHE_COMMON, ELASTIC_AGENT, ELASTIC_FIRST


class HitTests(unittest.TestCase):
    """L{Hit.to_json} gives the contract's JSON object."""

    def test_toJson(self):
        """A hit's JSON has every field, time in ISO 8601 with its offset."""
        self.assertEqual(
            parse_line(ELASTIC_FIRST).to_json(),
            {
                "time": "2015-05-17T10:05:03+00:00",
                "client": "83.149.9.216",
                "method": "GET",
                "resource": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
                "protocol": "HTTP/1.1",
                "status": 200,
                "bytes": 203023,
                "referrer": "http://semicomplete.com/presentations/logstash-monitorama-2013/",
                "agent": ELASTIC_AGENT,
                "vhost": None,
                "source": None, "duration_ms": None,
            },
        )

    def test_toJsonOffsetAndNones(self):
        """A -0700 common line's JSON keeps the offset and has null referrer and agent."""
        json = parse_line(APACHE_COMMON).to_json()
        self.assertEqual(
            (json["time"], json["referrer"], json["agent"], json["bytes"]),
            ("2000-10-10T13:55:36-07:00", None, None, 2326),
        )


class JsonTextTests(unittest.TestCase):
    """L{json_text}: compact JSON with no raw C{<}, C{>} or C{&}, that decodes to the value."""

    def test_safeInHtml(self):
        """Markup characters are written as JSON escapes, and decode back."""
        value = {"referrer": '"></script><script>alert(1)</script>&amp;', "status": 200}
        text = json_text(value)
        self.assertEqual(text, '{"referrer":"\\"\\u003e\\u003c/script\\u003e\\u003cscript\\u003e'
                               'alert(1)\\u003c/script\\u003e\\u0026amp;","status":200}')
        self.assertEqual(json.loads(text), value)

    def test_hitJson(self):
        """A hit's JSON is one line, and decodes to its to_json()."""
        hit = parse_line(ELASTIC_FIRST)
        text = json_text(hit.to_json())
        self.assertNotIn("\n", text)
        self.assertEqual(json.loads(text), hit.to_json())


class CountOfTests(unittest.TestCase):
    """L{count_of}: a count of at most DIGITS ASCII digits, else None."""

    def test_digits(self):
        """Up to 18 ASCII digits, as text or bytes, are the number they spell."""
        self.assertEqual(DIGITS, 18)
        for text, number in (("0", 0), ("512", 512), (b"512", 512), ("9" * 18, 10**18 - 1)):
            self.assertEqual(count_of(text), number, text)

    def test_notACount(self):
        """More digits, no digits, signs, spaces and digits that are not ASCII are no count."""
        for text in ("9" * 19, "", b"", "-1", "+1", " 1", "1.5", "\u00b2", "\uff11", b"0x1"):
            self.assertIsNone(count_of(text), text)
