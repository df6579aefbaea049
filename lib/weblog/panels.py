# -*- test-case-name: tests.test_panels -*-
"""
The page's top lists, declared: what each counts of a line and how it is shown.

A new top list is one L{Panel} added to L{PANELS}: the counts
(L{weblog.aggregates}), the JSON, the stats events, the page and its script
all go by this list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from weblog.parsing import Logged, Raw, as_text, referrer_of, resource_of

__all__ = ["PANELS", "Panel", "counted_fields", "referring_site"]


@dataclass(frozen=True)
class Panel:
    """
    One top list.

    @ivar name: its key in the JSON C{top} object, and its list's id (C{top-<name>}).
    @ivar title: its heading on the page.
    @ivar field: the field of L{Logged} it counts.
    @ivar shown: what a field's value (as logged) counts as, as a hit shows it; None
        when it is not counted.
    @ivar display: how the page writes a key: C{"text"}, C{"host"} (a host that is not
        ASCII in its IDNA form) or C{"url"} (its host so).
    @ivar by_key: listed whole, in the keys' order, rather than the most common first.
    """

    name: str
    title: str
    field: str
    shown: Callable[[Raw], str | None]
    display: str = "text"
    by_key: bool = False



def referring_site(referrer: str) -> str | None:
    """
    The host a referrer URL names, lower-cased, or None when it names none.

    @param referrer: a referrer as a hit shows it (hostile text).
    @return: the host, without port or credentials.
    """
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    return host or None


_site = lru_cache(maxsize=8192)(referring_site)


def _site_of(referrer: Raw) -> str | None:
    """The referring site of a referrer as logged."""
    shown = referrer_of(referrer)
    return None if shown is None else _site(shown)


PANELS = (
    Panel("sites", "Top referring sites", "referrer", _site_of, display="host"),
    Panel("referrers", "Top referrers", "referrer", referrer_of, display="url"),
    Panel("resources", "Top resources", "request", resource_of),
    Panel("statuses", "Status codes", "status", as_text, by_key=True),
)
"""The top lists, in the page's order."""


def counted_fields(panels: Iterable[Panel]) -> tuple[str, ...]:
    """
    The fields of L{Logged} that a line's counts read, each once: its time (whose minute
    is counted), its request (to tell weblog's own page loads), then the panels' fields,
    as L{weblog.parsing.LineParser.scanner} takes them.
    """
    fields = ["time", "request"]
    for panel in panels:
        if panel.field not in Logged._fields:
            raise ValueError(f"panel {panel.name!r} counts no field of a line: {panel.field!r}")
        if panel.field not in fields:
            fields.append(panel.field)
    return tuple(fields)
