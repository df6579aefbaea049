# -*- test-case-name: tests.test_historypage -*-
"""
The URLs of the views one click away from a view: a range, a filter added or taken out,
a page further back.

The page of a history view makes every link with it, and the live page its
panels' links (their drill-down); www/weblog.js makes the same for the entries
it fills live, from each list's C{data-view} and C{data-filter}
(L{ViewLinks.to} with one filter set, by C{URLSearchParams}).  Every URL is the
page's own path (L{weblog.resources}: it stays on this site) and a query.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC
from urllib.parse import urlencode

from weblog.question import Question
from weblog.selection import PARAMETERS, Selection

__all__ = ["PANEL_FILTERS", "WINDOW", "ViewLinks"]

PANEL_FILTERS = {"sites": "site", "referrers": "ref", "resources": "resource",
                 "statuses": "status"}
"""The parameter that an entry of each panel adds to the view (its drill-down)."""
WINDOW = ("range", "from", "to")
"""The parameters of a view's window: a link that sets one takes the others out."""


class ViewLinks:
    """The URLs of the views one click away from this one."""

    def __init__(self, base: str, selection: Selection, question: Question | None,
                 given: Collection[str] = ()) -> None:
        """
        @param base: the page's own URL path (C{""} at the site's root).
        @param question: the view's window and filters; None for the live view.
        @param given: the names of the page's parameters the request gave: kept in the links
            even at their default values, since a history view's panels follow them only when
            given.
        """
        default = Selection()
        self.base = base or "/"
        self.pairs: dict[str, str] = {
            name: str(getattr(selection, name)) for name in PARAMETERS
            if name in given or getattr(selection, name) != getattr(default, name)}
        if question is None:
            return
        if question.range is not None:
            self.pairs["range"] = question.range
        for name, moment in (("from", question.start), ("to", question.end)):
            if moment is not None:
                self.pairs[name] = moment.astimezone(UTC).isoformat()
        self.pairs.update(question.filters)
        if question.before is not None:
            self.pairs["before"] = question.before

    def to(self, **changes: str | None) -> str:
        """
        This view with C{changes} (None takes a parameter out), as a URL; it lists the newest
        hits again unless C{before} is among the changes.
        """
        pairs = dict(self.pairs)
        if "before" not in changes:
            pairs.pop("before", None)
        if any(name in changes for name in WINDOW):
            for name in WINDOW:
                pairs.pop(name, None)
        for name, value in changes.items():
            if value is None:
                pairs.pop(name, None)
            else:
                pairs[name] = value
        return f"{self.base}?{urlencode(pairs)}" if pairs else self.base

    def json(self) -> str:
        """This view's JSON, as a URL."""
        return f"{self.base.rstrip('/')}/json?{urlencode(self.pairs)}"

    def csv(self, panel: str) -> str:
        """One panel of this view as CSV (C{/csv?panel=...}), as a URL; C{before} left out."""
        pairs = {"panel": panel, **{name: value for name, value in self.pairs.items()
                                    if name != "before"}}
        return f"{self.base.rstrip('/')}/csv?{urlencode(pairs)}"

    def hidden(self) -> list[tuple[str, str]]:
        """What a form keeps of this view beside the fields it shows: the window and filters."""
        return [(name, value) for name, value in self.pairs.items() if name not in PARAMETERS
                and name != "before"]
