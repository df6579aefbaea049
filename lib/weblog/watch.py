# -*- test-case-name: tests.test_watch -*-
"""
Which new hits an event stream sends: a page's selection, narrowed by the window and the
drill-down filters of a history view (L{weblog.question}).

A stream sends new hits, so only a window that reaches the newest hit makes
sense for it: a C{range} (back from the newest hit, so every new one is in it),
a C{from} without a C{to}, or a C{to} still ahead of the newest hit read.  A
C{to} before it, or a C{before} (which pages a past list back), is a 400 with a
one-line reason.  The filters compare with each hit's field as the pages show
it; C{site} with the referring site as the panels count it
(L{weblog.panels.referring_site}).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from weblog.errors import BadQuery
from weblog.hit import Hit
from weblog.panels import referring_site
from weblog.question import Question
from weblog.selection import Selection

__all__ = ["Watch", "watch_of"]

FIELDS: dict[str, Callable[[Hit], str | None]] = {
    "site": lambda hit: None if hit.referrer is None else referring_site(hit.referrer),
    "ref": lambda hit: hit.referrer,
    "resource": lambda hit: hit.resource,
    "client": lambda hit: hit.client,
    "vhost": lambda hit: hit.vhost,
    "source": lambda hit: hit.source,
}
"""What each filter compares its value with, of a hit (L{weblog.question.FILTERS}' names)."""


@dataclass(frozen=True)
class Watch(Selection):
    """
    A selection that also asks each hit for a time (C{start} to C{end}) and filters' values.

    @ivar filters: (parameter, value) pairs, each a value a hit's field must show.
    @ivar start: the earliest time a hit may have; None for any.
    @ivar end: the latest; None for any.
    """

    filters: tuple[tuple[str, str], ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def matches(self, hit: Hit) -> bool:
        """Return whether C{hit} passes the selection, the window and every filter."""
        if self.start is not None and hit.time < self.start:
            return False
        if self.end is not None and hit.time > self.end:
            return False
        if any(FIELDS[name](hit) != value for name, value in self.filters):
            return False
        return super().matches(hit)

    def filter_key(self) -> tuple[str, ...]:
        """What decides which hits match (all but the limit): equal keys, equal matches."""
        return (*super().filter_key(), repr((self.filters, self.start, self.end)))


def watch_of(selection: Selection, question: Question | None, newest: datetime | None
             ) -> Selection:
    """
    What an event stream with C{selection} and C{question} sends.

    @param newest: the time of the newest hit read (None when none is).
    @raise BadQuery: for C{before}, a C{to} before C{newest}, or a filter the stream cannot
        compare (C{browser}, C{system}, C{device}, C{country}: the history finds them).
    """
    if question is None:
        return selection
    if question.before is not None:
        raise BadQuery("before", "the event stream sends new hits: there is no list to page back")
    for name, _ in question.filters:
        if name not in FIELDS:
            raise BadQuery(name, "the event stream cannot filter by it: it is found as the "
                                 "history stores a hit (ask the JSON or the page)")
    if question.end is not None and newest is not None and question.end < newest:
        raise BadQuery("to", f"is before the newest hit read ({newest.astimezone(UTC).isoformat()}"
                             "): a past window has no new hits for the event stream")
    return Watch(**asdict(selection), filters=question.filters, start=question.start,
                 end=question.end)
