# -*- test-case-name: tests.test_pages -*-
"""
The resources behind C{weblog.rpy} and C{dynamic.rpy}: HTML, JSON and the article's dynamic page.

The .rpy files only fetch the shared objects from the registry and bind one of
these; everything here is importable, so trial tests reach it directly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from weakref import WeakKeyDictionary

from twisted.web.resource import Resource
from twisted.web.server import Request
from twisted.web.template import Element, Tag, flattenString, tags

from chart import per_minute_svg
from events import hub_for
from persist import ICounter, IRecords
from selection import BadQuery, Selection, parse_query
from webloglib import Hit, json_text

__all__ = ["DynamicPage", "EventsPage", "JsonPage", "WeblogPage", "security_headers"]

CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
REFRESH_SECONDS = 5


def security_headers(request: Request) -> None:
    """Set the headers every weblog response carries: CSP, nosniff, no referrer, no caching."""
    request.setHeader(b"content-security-policy", CONTENT_SECURITY_POLICY)
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"no-referrer")
    request.setHeader(b"cache-control", b"no-store")


def bad_request(request: Request, error: BadQuery) -> bytes:
    """Answer 400 with the one-line reason as plain text."""
    request.setResponseCode(400)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return f"{error}\n".encode()


def _selection(request: Request) -> Selection | bytes:
    """The request's selection, or the body of a 400 answer when its query is invalid."""
    security_headers(request)
    try:
        return parse_query(request.args or {})
    except BadQuery as error:
        return bad_request(request, error)


def _base_path(request: Request) -> str:
    """The URL path of the weblog page itself, whatever child was asked for."""
    prepath = [segment.decode("utf-8", "replace") for segment in request.prepath or []]
    while prepath and prepath[-1] in ("json", "events", ""):
        prepath.pop()
    return "/" + "/".join(prepath)


def _referrer_cell(referrer: str | None) -> Tag | str:
    """A referrer as text, or as a link when its scheme is http or https."""
    if referrer is None:
        return "-"
    if referrer.lower().startswith(("http://", "https://")):
        return tags.a(referrer, href=referrer, rel="noopener noreferrer nofollow")
    return referrer


def hit_row(hit: Hit, odd: int) -> Tag:
    """One table row for a hit; the template quotes every string in it."""
    return tags.tr(
        tags.td(tags.time(hit.time.strftime("%Y-%m-%d %H:%M:%S %z"),
                          datetime=hit.time.isoformat()), class_="time"),
        tags.td(hit.client, class_="client"),
        tags.td(_referrer_cell(hit.referrer), class_="referrer"),
        tags.td(hit.resource, class_="resource"),
        tags.td(str(hit.status) if hit.status is not None else "-", class_="status"),
        class_=f"row{odd}",
    )


def _top_list(title: str, name: str, items: list[tuple[str, int]]) -> Tag:
    """One top list: a heading and an ordered list of counts and keys."""
    return tags.section(
        tags.h2(title),
        tags.ol([tags.li(tags.span(str(count), class_="count"), " ", tags.span(key, class_="key"))
                 for key, count in items], id=f"top-{name}"),
        class_="top",
    )


def log_summary(status: dict[str, Any]) -> str:
    """The log's counts in words, as the page shows them."""
    return (f"{status['lines']} lines read, {status['malformed']} malformed, "
            f"{status['rotations']} rotations")


class WeblogElement(Element):
    """The latest hits as an HTML page: the log's state, filters, live rows, aggregates."""

    loader = None

    def __init__(self, records: IRecords, selection: Selection, hits: list[Hit], base: str,
                 heading: str) -> None:
        super().__init__()
        self.records = records
        self.selection = selection
        self.hits = hits
        self.base = base
        self.heading = heading

    def render(self, request: Any) -> Tag:
        """Build the whole page."""
        status = self.records.status()
        query = self.selection.query()
        suffix = f"?{query}" if query else ""
        aggregates = self.records.aggregates
        top = aggregates.to_json()["top"]
        return tags.html(
            tags.head(
                tags.meta(charset="utf-8"),
                tags.noscript(tags.meta(content=str(REFRESH_SECONDS), **{"http-equiv": "refresh"})),
                tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
                tags.title(f"weblog: {self.heading}"),
                tags.link(rel="stylesheet", href="/weblog.css"),
                tags.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
                tags.script(src="/weblog.js", defer="defer"),
            ),
            tags.body(
                tags.header(
                    tags.h1(self.heading),
                    tags.span("static", id="live", class_="live-off",
                              title="live updates need JavaScript"),
                ),
                self._log_state(status),
                self._form(),
                tags.div(
                    Tag("main")(
                        tags.table(
                            tags.thead(tags.tr(
                                tags.th("Time"), tags.th("Client"), tags.th("Referrer"),
                                tags.th("Resource"), tags.th("Status"),
                            )),
                            tags.tbody([hit_row(hit, odd % 2) for odd, hit in enumerate(self.hits)],
                                       id="hits", **{"data-limit": str(self.selection.limit)}),
                        ),
                        tags.p(
                            f"{len(self.hits)} shown of {status['kept']} kept hits. ",
                            tags.a("This view as JSON", href=f"{self.base}/json{suffix}"),
                            " \u00b7 ",
                            tags.a("live events", href=f"{self.base}/events{suffix}"),
                            " \u00b7 ", tags.a("Home", href="/"),
                            class_="footer",
                        ),
                    ),
                    tags.aside(
                        tags.section(tags.h2("Hits per minute (log time)"),
                                     per_minute_svg(aggregates.per_minute()), class_="chart"),
                        _top_list("Top referring sites", "sites", top["sites"]),
                        _top_list("Top referrers", "referrers", top["referrers"]),
                        _top_list("Top resources", "resources", top["resources"]),
                        _top_list("Status codes", "statuses", top["statuses"]),
                        tags.p("Counted over every hit read since start, weblog's own pages "
                               "excluded.", class_="footer"),
                    ),
                    class_="columns",
                ),
                **{"data-events": f"{self.base}/events{suffix}",
                   "data-last-id": str(self.records.last_id)},
            ),
            lang="en",
        )

    def _log_state(self, status: dict[str, Any]) -> Tag:
        """The log's path, state and counts; a waiting notice when it cannot be read."""
        if status["state"] == "ok":
            return tags.p("Following ", tags.code(status["path"]), ": ",
                          tags.span(log_summary(status), id="log-counts"), ".",
                          class_="log state-ok", id="log")
        if status["state"] == "misconfigured":
            notice = f"cannot follow {status['path']}: {status['reason']}"
        else:
            notice = f"waiting for {status['path']}: {status['reason']}"
        return tags.p(
            tags.strong(notice),
            " (", tags.span(log_summary(status), id="log-counts"), ").",
            class_=f"log state-{status['state']}", id="log",
        )

    def _form(self) -> Tag:
        """The filter form; submitting it makes a bookmarkable URL."""
        selection = self.selection

        def choice(name: str, label: str, values: tuple[str, ...]) -> Tag:
            current = getattr(selection, name)
            options = [tags.option(value, value=value,
                                   **({"selected": "selected"} if value == current else {}))
                       for value in values]
            return tags.label(label, " ", tags.select(*options, name=name))

        return tags.form(
            tags.label("Status ", tags.input(name="status", value=selection.status, size="4")),
            choice("referrer", "Referrer", ("required", "any")),
            choice("bots", "Bots", ("include", "exclude")),
            choice("own", "weblog's own hits", ("hide", "show")),
            tags.label("Contains ", tags.input(name="q", value=selection.q, type="search")),
            tags.label("Rows ", tags.input(name="limit", value=str(selection.limit),
                                           type="number", min="1", max="1000")),
            tags.button("Show", type="submit"),
            method="get", action=self.base,
        )


_rendered: WeakKeyDictionary[IRecords, OrderedDict[tuple[Any, ...], bytes]] = WeakKeyDictionary()


def _cached(records: IRecords, key: tuple[Any, ...], render: Callable[[], bytes]) -> bytes:
    """
    A rendered answer, kept until the records change (a page is rendered once per change).

    @param key: what else the answer depends on (the kind of page, the selection).
    """
    pages = _rendered.setdefault(records, OrderedDict())
    full = (*key, records.last_id, repr(records.status()))
    body = pages.get(full)
    if body is None:
        body = pages[full] = render()
        while len(pages) > 32:
            pages.popitem(last=False)
    return body


def hits_json(records: IRecords, selection: Selection, hits: Iterable[Hit]) -> bytes:
    """The JSON document for a selection: the log's state, the hits, and the aggregates."""
    document = {
        "log": records.status(),
        "query": {"limit": selection.limit, "status": selection.status,
                  "referrer": selection.referrer, "q": selection.q, "bots": selection.bots,
                  "own": selection.own},
        "hits": [hit.to_json() for hit in hits],
        **records.aggregates.to_json(),
    }
    return json_text(document).encode()


class JsonPage(Resource):
    """C{/weblog.rpy/json}: the same selection as the HTML page, as JSON."""

    isLeaf = True

    def __init__(self, records: IRecords) -> None:
        super().__init__()
        self.records = records

    def render_GET(self, request: Request) -> bytes:
        """Answer with the selected hits as JSON, or 400 for a bad query."""
        selection = _selection(request)
        if isinstance(selection, bytes):
            return selection
        self.records.poll()
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return _cached(self.records, ("json", selection), lambda: hits_json(
            self.records, selection, selection.select(self.records.newest())))


class EventsPage(Resource):
    """C{/weblog.rpy/events}: Server-Sent Events, one C{hit} event per new matching hit."""

    isLeaf = True

    def __init__(self, records: IRecords) -> None:
        super().__init__()
        self.records = records

    def render_GET(self, request: Request) -> bytes | int:
        """Open a stream, or answer 400 for a bad query and 503 when too many are open."""
        args = dict(request.args or {})
        since = args.pop(b"since", None)
        security_headers(request)
        try:
            selection = parse_query(args)
            last = _since(since)
        except BadQuery as error:
            return bad_request(request, error)
        self.records.poll()
        return hub_for(self.records).open(request, selection, last)


def _since(values: list[bytes] | None) -> int | None:
    """The C{since} parameter of an event stream: the id of the last hit the client has."""
    if not values:
        return None
    if len(values) > 1:
        raise BadQuery("since", "given more than once")
    text = values[0].decode("ascii", "replace")
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise BadQuery("since", f"must be a hit id, a whole number, got {text[:20]!r}")
    return int(text)


class WeblogPage(Resource):
    """C{/weblog.rpy}: the latest hits, newest first, with C{json} and C{events} as children."""

    def __init__(self, records: IRecords, heading: str = "Latest hits") -> None:
        super().__init__()
        self.records = records
        self.heading = heading
        self.putChild(b"json", JsonPage(records))
        self.putChild(b"events", EventsPage(records))

    def getChild(self, path: bytes, request: Request) -> Resource:
        """The page itself for a trailing slash; a 404 resource for anything unknown."""
        if path == b"":
            return self
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes | int:
        """Render the page, or 400 for a bad query."""
        selection = _selection(request)
        if isinstance(selection, bytes):
            return selection
        self.records.poll()
        base = _base_path(request)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return _cached(self.records, ("html", selection, base, self.heading),
                       lambda: self._render(selection, base))

    def _render(self, selection: Selection, base: str) -> bytes:
        """The whole page for C{selection}, as bytes."""
        hits = selection.select(self.records.newest())
        element = WeblogElement(self.records, selection, hits, base, self.heading)
        rendered: list[bytes] = []
        flattenString(None, element).addCallback(rendered.append)
        if not rendered:  # the page has nothing asynchronous, so this cannot happen
            raise RuntimeError("the weblog page did not render synchronously")
        return b"<!DOCTYPE html>\n" + rendered[0]


DYNAMIC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dynamic Page</title>
<link rel="stylesheet" href="/weblog.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
<body>
  <p>Dynamic Page served by Twisted Matrix</p>
  <p>This page has been viewed <span id="views">{views}</span> times.</p>
  <p><a href="/">Home</a> &middot; <a href="/weblog.rpy">Latest hits</a></p>
</body>
</html>
"""


class DynamicPage(Resource):
    """The article's C{dynamic.rpy} page, plus how many times it was viewed."""

    isLeaf = True

    def __init__(self, counter: ICounter) -> None:
        super().__init__()
        self.counter = counter

    def render_GET(self, request: Request) -> bytes:
        """Count this view and show the count."""
        self.counter.increment()
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return DYNAMIC_PAGE.format(views=self.counter.getValue()).encode()
