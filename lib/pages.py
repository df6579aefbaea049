# -*- test-case-name: tests.test_pages -*-
"""
The resources behind C{weblog.rpy} and C{dynamic.rpy}: HTML, JSON and the article's dynamic page.

The .rpy files only fetch the shared objects from the registry and bind one of
these; everything here is importable, so trial tests reach it directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.template import Element, Tag, renderElement, tags

from persist import ICounter, IRecords
from selection import BadQuery, Selection, parse_query
from webloglib import Hit, json_text

__all__ = ["DynamicPage", "JsonPage", "WeblogPage", "security_headers"]

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
                          datetime=hit.time.isoformat())),
        tags.td(hit.client),
        tags.td(_referrer_cell(hit.referrer), class_="referrer"),
        tags.td(hit.resource, class_="resource"),
        tags.td(str(hit.status) if hit.status is not None else "-"),
        class_=f"row{odd}",
    )


class WeblogElement(Element):
    """The latest hits as an HTML page, with the log's state and a filter form."""

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
        json_url = f"{self.base}/json" + (f"?{query}" if query else "")
        return tags.html(
            tags.head(
                tags.meta(charset="utf-8"),
                tags.meta(content=str(REFRESH_SECONDS), **{"http-equiv": "refresh"}),
                tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
                tags.title(f"weblog: {self.heading}"),
                tags.link(rel="stylesheet", href="/weblog.css"),
            ),
            tags.body(
                tags.h1(self.heading),
                self._log_state(status),
                self._form(),
                tags.table(
                    tags.thead(tags.tr(
                        tags.th("Time"), tags.th("Client"), tags.th("Referrer"),
                        tags.th("Resource"), tags.th("Status"),
                    )),
                    tags.tbody([hit_row(hit, odd % 2) for odd, hit in enumerate(self.hits)],
                               id="hits"),
                ),
                tags.p(
                    f"{len(self.hits)} shown of {status['kept']} kept hits; "
                    f"refreshed every {REFRESH_SECONDS} s. ",
                    tags.a("This view as JSON", href=json_url), " \u00b7 ",
                    tags.a("Home", href="/"),
                    class_="footer",
                ),
            ),
            lang="en",
        )

    def _log_state(self, status: dict[str, Any]) -> Tag:
        """The log's path, state and counts; a waiting notice when it cannot be read."""
        counts = (f"{status['lines']} lines read, {status['malformed']} malformed, "
                  f"{status['rotations']} rotations")
        if status["state"] == "ok":
            return tags.p("Following ", tags.code(status["path"]), ": ", counts, ".",
                          class_="log state-ok", id="log")
        return tags.p(
            tags.strong(f"waiting for {status['path']}: {status['reason']}"),
            f" ({counts}).",
            class_=f"log state-{status['state']}", id="log",
        )

    def _form(self) -> Tag:
        """The filter form; submitting it makes a bookmarkable URL."""
        selection = self.selection

        def option(value: str, current: str) -> Tag:
            chosen = {"selected": "selected"} if value == current else {}
            return tags.option(value, value=value, **chosen)

        return tags.form(
            tags.label("Status ", tags.input(name="status", value=selection.status, size="4")),
            " ",
            tags.label("Referrer ", tags.select(
                option("required", selection.referrer), option("any", selection.referrer),
                name="referrer",
            )),
            " ",
            tags.label("Contains ", tags.input(name="q", value=selection.q, type="search")),
            " ",
            tags.label("Rows ", tags.input(name="limit", value=str(selection.limit),
                                           type="number", min="1", max="1000")),
            " ",
            tags.button("Show", type="submit"),
            method="get", action=self.base,
        )


def hits_json(records: IRecords, selection: Selection, hits: Iterable[Hit]) -> bytes:
    """The JSON document for a selection: the log's state and the selected hits."""
    document = {
        "log": records.status(),
        "query": {"limit": selection.limit, "status": selection.status,
                  "referrer": selection.referrer, "q": selection.q},
        "hits": [hit.to_json() for hit in hits],
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
        self.records.getNew()
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return hits_json(self.records, selection, selection.select(self.records.newest()))


class WeblogPage(Resource):
    """C{/weblog.rpy}: the latest hits, newest first, with C{json} as a child."""

    def __init__(self, records: IRecords, heading: str = "Latest hits") -> None:
        super().__init__()
        self.records = records
        self.heading = heading
        self.putChild(b"json", JsonPage(records))

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
        self.records.getNew()
        hits = selection.select(self.records.newest())
        element = WeblogElement(self.records, selection, hits, _base_path(request), self.heading)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        renderElement(request, element)
        return NOT_DONE_YET


DYNAMIC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dynamic Page</title>
<link rel="stylesheet" href="/weblog.css"></head>
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
