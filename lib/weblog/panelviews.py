# -*- test-case-name: tests.test_panelviews -*-
"""
The history page's panels beyond the four top lists: one section per key of the answer.

Each panel is a C{<section class="panel">} with its C{<h2>}; each entry is a link to the
view with the entry's filter added (its drill-down, L{weblog.viewlinks.ViewLinks.to}, so
the request's parameters are kept), and each panel links to its CSV.  A key the answer
does not have (a history that does not count it yet) shows no panel.  Every value is
text in tags: the flattener quotes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.web.template import Tag, tags

from weblog.countrynames import country_name
from weblog.render import human_size
from weblog.viewlinks import ViewLinks

__all__ = ["LONGEST", "PANEL_TITLES", "panel_sections", "shortened", "visitors_words"]

LONGEST = 80
"""The most characters of a key an entry shows; a longer key is cut, whole in its title."""
PANEL_TITLES = {
    "not_found": "Broken inbound links (404, 410)", "server_errors": "Server errors (5xx)",
    "browsers": "Browsers", "systems": "Operating systems", "devices": "Devices",
    "crawlers": "Crawlers", "countries": "Countries", "bandwidth": "Bandwidth",
    "response_times": "Response times", "vhosts": "Virtual hosts",
    "sources": "Sources (logs, syslog senders)",
}
"""Each panel's heading, by its key in the answer, in the page's order."""
_RANKED = {"browsers": "browser", "systems": "system", "devices": "device",
           "vhosts": "vhost", "sources": "source"}
"""The panels that are plain [name, hits] lists, and the filter an entry adds."""
_SEVERAL = ("vhosts", "sources")
"""The panels shown only when they have two entries or more."""


def shortened(text: str) -> tuple[str, dict[str, str]]:
    """C{text} as an entry shows it, cut at L{LONGEST}, and a title holding it whole if cut."""
    if len(text) <= LONGEST:
        return text, {}
    return text[:LONGEST - 1] + "\u2026", {"title": text}


def visitors_words(answer: dict[str, Any]) -> str:
    """The hits of the view and, when the answer counts them, its visitors, in words."""
    words = f"{answer['total']:,} hits"
    if isinstance(answer.get("visitors"), int):
        words += f" from {answer['visitors']:,} visitors (approx.)"
    return words


def _link(text: str, href: str) -> Tag:
    """A link showing C{text} (cut when long, whole in its title)."""
    shown, title = shortened(text)
    return tags.a(shown, href=href, **title)


def _entry(count: str, key: Tag | str, *under: Tag) -> Tag:
    """One entry of a panel's list: its count, its key, and what is listed under it."""
    return tags.li(tags.span(count, class_="count"), " ", tags.span(key, class_="key"), *under)


def _ranked(items: Sequence[Sequence[Any]], href: Callable[[str], str],
            shown: Callable[[str], Tag | str] | None = None,
            count: Callable[[int], str] = "{:,}".format) -> Tag:
    """A list of [key, number] entries, each key a link to its drill-down view."""
    if not items:
        return tags.p("None in this view.", class_="none")
    return tags.ol(*(_entry(count(number), shown(str(key)) if shown else
                            _link(str(key), href(str(key))))
                     for key, number in items))


def _section(links: ViewLinks, name: str, *content: Any) -> Tag:
    """A panel's section: its heading, its content, and its CSV link."""
    title = PANEL_TITLES[name]
    csv = tags.a("CSV", href=links.csv(name), class_="csv", **{"aria-label": f"{title} as CSV"})
    return tags.section(tags.h2(title), *content, tags.p(csv, class_="panel-foot"),
                        class_="panel", id=f"panel-{name}")


def _failing(links: ViewLinks, name: str, entries: list[dict[str, Any]], status: str) -> Tag:
    """The resources answered with an error status, each with the referrers that link there."""
    if not entries:
        return _section(links, name, tags.p("None in this view.", class_="none"))
    items = []
    for entry in entries:
        resource = str(entry["resource"])
        referrers = [tags.li(tags.span(f"{hits:,}", class_="count"), " ", tags.span(
            _link(str(referrer), links.to(ref=str(referrer))), class_="key"))
            for referrer, hits in entry.get("referrers") or ()]
        under = [tags.ul(*referrers, class_="referrers",
                         **{"aria-label": f"referrers of {shortened(resource)[0]}"})
                 ] if referrers else [tags.span(" (no referrer)", class_="none")]
        items.append(_entry(f"{entry['hits']:,}",
                            _link(resource, links.to(resource=resource, status=status)), *under))
    return _section(links, name, tags.ol(*items))


def _country(links: ViewLinks) -> Callable[[str], Tag]:
    """How the countries panel shows a code: a link with the name, the code in an C{abbr}."""
    def shown(code: str) -> Tag:
        name = country_name(code)
        href = links.to(country=code)
        if name is None or name == code:
            return tags.a(code, href=href)
        if code in ("private", "unknown"):
            return tags.a(name, href=href)
        return tags.a(name, " (", tags.abbr(code, title=name), ")", href=href)
    return shown


def _crawlers(links: ViewLinks, crawlers: dict[str, Any]) -> Tag:
    """The crawlers' hits, and the most active crawlers, each a link to its hits alone."""
    total = tags.p(tags.a(f"{crawlers['hits']:,} hits by crawlers", href=links.to(bots="only")),
                   class_="total")
    return _section(links, "crawlers", total, _ranked(
        crawlers.get("top") or [], lambda name: links.to(bots="only", browser=name)))


def _bandwidth(links: ViewLinks, bandwidth: dict[str, Any]) -> Tag:
    """The bytes sent in the view, and the resources that took the most."""
    total = tags.p(f"{human_size(bandwidth['bytes'])} sent", class_="total",
                   title=f"{bandwidth['bytes']:,} bytes")
    return _section(links, "bandwidth", total, _ranked(
        bandwidth.get("resources") or [], lambda resource: links.to(resource=resource),
        count=human_size))


def _ms(value: float | None) -> str:
    """A time in milliseconds, as the response times show it."""
    return "-" if value is None else f"{value:,.1f}"


def _response_times(links: ViewLinks, times: dict[str, Any] | None) -> Tag:
    """The percentiles of the response times, over the view and per resource (a table)."""
    if times is None:
        return _section(links, "response_times", tags.p(
            "No hit of this view has a response time. A log has them when its format does:"
            " see ", tags.code("WEBLOG_FORMAT"),
            " (Apache ", tags.code("%D"), " or nginx ", tags.code("$request_time"), ").",
            class_="none"))
    head = tags.thead(tags.tr(*(tags.th(name, scope="col") for name in (
        "Resource", "Hits", "p50 ms", "p95 ms", "p99 ms"))))
    rows = [tags.tr(tags.th("(all)", scope="row"), *(
        tags.td(text) for text in (f"{times['hits']:,}", _ms(times["p50"]), _ms(times["p95"]),
                                   _ms(times["p99"]))), class_="all")]
    for entry in times.get("resources") or ():
        resource = str(entry["resource"])
        rows.append(tags.tr(tags.th(_link(resource, links.to(resource=resource)), scope="row"),
                            *(tags.td(text) for text in (
                                f"{entry['hits']:,}", _ms(entry["p50"]), _ms(entry["p95"]),
                                _ms(entry["p99"])))))
    table = tags.table(tags.caption("Percentiles of the time the server took, in milliseconds; "
                                    "resources by total time spent"), head, tags.tbody(*rows),
                       class_="numbers")
    return _section(links, "response_times", tags.div(table, class_="scroll"))


def _drill(links: ViewLinks, name: str) -> Callable[[str], str]:
    """The drill-down link of an entry of a plain list panel (L{_RANKED})."""
    parameter = _RANKED[name]
    return lambda key: links.to(**{parameter: key})


def panel_sections(links: ViewLinks, answer: dict[str, Any]) -> list[Tag]:
    """The sections of every new panel the answer has, in L{PANEL_TITLES}' order."""
    sections = []
    for name in PANEL_TITLES:
        if name not in answer:
            continue
        value = answer[name]
        if name in ("not_found", "server_errors"):
            sections.append(_failing(links, name, value or [],
                                     "4xx" if name == "not_found" else "5xx"))
        elif name in _RANKED:
            if name in _SEVERAL and len(value or ()) < 2:
                continue
            sections.append(_section(links, name, _ranked(value or [], _drill(links, name))))
        elif name == "countries":
            sections.append(_section(links, name, _ranked(value or [], str, _country(links))))
        elif name == "crawlers" and value is not None:
            sections.append(_crawlers(links, value))
        elif name == "bandwidth" and value is not None:
            sections.append(_bandwidth(links, value))
        elif name == "response_times":
            sections.append(_response_times(links, value))
    return sections
