# -*- test-case-name: tests.test_webloglib -*-
"""
The article's log library: split and parse access-log lines, and its static snapshot page.

What the article's readers know is here (C{log_fields} and its field
positions, C{parse_line}, C{TOP}, C{ROW}, C{END}, C{COLOR}); the parsing
itself is L{weblog.parsing}'s, the hit L{weblog.hit}'s.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from weblog.cleaning import MAX_FIELD, clean
from weblog.errors import LogLineError
from weblog.hit import Hit, json_text
from weblog.parsing import parse_line, parse_lines

__all__ = ["COLOR", "END", "MAX_FIELD", "ROW", "TOP", "Hit", "LogLineError", "clean",
           "json_text", "log_fields", "parse_line", "parse_lines", "snapshot_page"]

# The article's field positions in a common or combined line split by log_fields().
client, ident, user, date, request, status, size, referrer, agent = range(9)

_FIELDS = re.compile(r'"(?:[^"\\]|\\.)*"?|\[[^\]]*\]?|\S+')


def log_fields(line: str) -> list[str]:
    """
    Split a line into its fields, keeping quoted and bracketed fields whole (the article's API).

    For a common or combined line the positions are the module's C{client},
    C{ident}, C{user}, C{date}, C{request}, C{status}, C{size}, C{referrer} and
    C{agent}; quoted fields keep their quotes, as in the article.

    @param line: one log line.
    @return: the fields in order.
    """
    return _FIELDS.findall(line)


# The article's HTML for the static snapshot page, kept as its API.  ROW is
# only ever filled by snapshot_page(), with colours from COLOR and escaped text.
COLOR = ("#ffffff", "#e8eef8")
TOP = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<title>weblog: latest referrers</title></head>
<body><h1>Latest referrers</h1>
<table><tr><th>Referrer</th><th>Resource</th></tr>
"""
ROW = '<tr style="background: %s"><td>%s</td><td>%s</td></tr>\n'
END = """</table>
<p>A snapshot, rewritten every few seconds. <a href="/weblog.rpy">The live page</a>.</p>
</body></html>
"""


def snapshot_page(hits: Iterable[Hit]) -> str:
    """
    Render the article's static page for C{hits}, every log string HTML-escaped.

    @param hits: the hits to show, in display order.
    @return: a complete HTML document.
    """
    rows = [
        ROW % (COLOR[odd % 2], html.escape(hit.referrer or "-"), html.escape(hit.resource))
        for odd, hit in enumerate(hits)
    ]
    return TOP + "".join(rows) + END
