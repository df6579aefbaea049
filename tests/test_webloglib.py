# -*- test-case-name: tests.test_webloglib -*-
"""Tests for webloglib, the article's log library: log_fields, the snapshot page, its names."""

from __future__ import annotations

import webloglib
from twisted.trial import unittest
from weblog import cleaning, errors, hit, parsing
from webloglib import log_fields, snapshot_page

from tests.support import (
    APACHE_COMBINED,
    ELASTIC_AGENT,
    ELASTIC_FIRST,
    XSS,
    twisted_line,
    written,
    written_hit,
)


class NamesTests(unittest.TestCase):
    """The article's names that the package now holds are the package's objects."""

    def test_reexports(self):
        """webloglib's parsing, hit and cleaning names are weblog's own, not copies."""
        self.assertEqual(
            [getattr(webloglib, name) for name in
             ("parse_line", "parse_lines", "Hit", "json_text", "clean", "MAX_FIELD",
              "LogLineError")],
            [parsing.parse_line, parsing.parse_lines, hit.Hit, hit.json_text, cleaning.clean,
             cleaning.MAX_FIELD, errors.LogLineError],
        )
        for name in webloglib.__all__:
            self.assertTrue(hasattr(webloglib, name), name)


class LogFieldsTests(unittest.TestCase):
    """L{log_fields} splits a line into the article's fields."""

    def test_combinedLine(self):
        """A combined line gives 9 fields; quoted fields keep quotes, the date is one field."""
        self.assertEqual(
            log_fields(ELASTIC_FIRST),
            [
                "83.149.9.216", "-", "-", "[17/May/2015:10:05:03 +0000]",
                '"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1"',
                "200", "203023",
                '"http://semicomplete.com/presentations/logstash-monitorama-2013/"',
                f'"{ELASTIC_AGENT}"',
            ],
        )

    def test_constantsIndexFields(self):
        """The module's client..agent constants are the positions 0 to 8."""
        self.assertEqual(
            [
                webloglib.client, webloglib.ident, webloglib.user, webloglib.date,
                webloglib.request, webloglib.status, webloglib.size, webloglib.referrer,
                webloglib.agent,
            ],
            list(range(9)),
        )

    def test_constantsPickFields(self):
        """The constants pick the named fields of Apache's documented combined line."""
        fields = log_fields(APACHE_COMBINED)
        self.assertEqual(
            (
                fields[webloglib.user], fields[webloglib.date], fields[webloglib.request],
                fields[webloglib.status], fields[webloglib.size], fields[webloglib.referrer],
                fields[webloglib.agent],
            ),
            (
                "frank", "[10/Oct/2000:13:55:36 -0700]", '"GET /apache_pb.gif HTTP/1.0"',
                "200", "2326", '"http://www.example.com/start.html"',
                '"Mozilla/4.08 [en] (Win98; I ;Nav)"',
            ),
        )

    def test_escapedQuoteStaysInField(self):
        """An escaped quote does not end a quoted field."""
        fields = log_fields(written(referrer='a\\"b c'))
        self.assertEqual((len(fields), fields[webloglib.referrer]), (9, '"a\\"b c"'))

    def test_twistedClientQuoted(self):
        """Twisted's quoted client is one field, with its quotes."""
        self.assertEqual(log_fields(twisted_line())[webloglib.client], '"203.0.113.7"')


class SnapshotPageTests(unittest.TestCase):
    """L{snapshot_page} renders the article's page with every log string escaped."""

    def test_escapesHostileStrings(self):
        """A script tag in referrer and resource is escaped, never written raw."""
        page = snapshot_page([written_hit(resource="/" + XSS, referrer=XSS)])
        self.assertIn("&lt;script&gt;", page)
        self.assertNotIn("<script>", page)
        self.assertIn("<td>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>", page)

    def test_onePage(self):
        """One hit gives TOP, one ROW of referrer and resource, then END."""
        self.assertEqual(
            snapshot_page([written_hit(resource="/a?x=1&y=2")]),
            webloglib.TOP
            + webloglib.ROW % (webloglib.COLOR[0], "http://example.com/", "/a?x=1&amp;y=2")
            + webloglib.END,
        )

    def test_rowsAlternateColours(self):
        """Rows alternate between the two COLOR values, starting with the first."""
        first, second = webloglib.COLOR
        self.assertNotEqual(first, second)
        page = snapshot_page([written_hit(resource=f"/{n}") for n in range(3)])
        self.assertEqual(
            page,
            webloglib.TOP
            + webloglib.ROW % (first, "http://example.com/", "/0")
            + webloglib.ROW % (second, "http://example.com/", "/1")
            + webloglib.ROW % (first, "http://example.com/", "/2")
            + webloglib.END,
        )

    def test_noReferrerShowsDash(self):
        """A hit without a referrer shows C{-} in the referrer cell."""
        page = snapshot_page([written_hit(resource="/x", referrer=None)])
        self.assertIn("<td>-</td><td>/x</td>", page)

    def test_noHits(self):
        """No hits give TOP directly followed by END."""
        self.assertEqual(snapshot_page([]), webloglib.TOP + webloglib.END)

    def test_pieces(self):
        """TOP opens the document and table, ROW is one row of three slots, END closes."""
        self.assertTrue(webloglib.TOP.startswith("<!DOCTYPE html>"))
        self.assertTrue(webloglib.TOP.endswith("<th>Resource</th></tr>\n"))
        self.assertEqual(webloglib.ROW.count("%s"), 3)
        self.assertTrue(webloglib.END.startswith("</table>"))
        self.assertTrue(webloglib.END.endswith("</body></html>\n"))
