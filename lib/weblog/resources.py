# -*- test-case-name: tests.test_pages -*-
"""
The resources behind C{weblog.rpy} and C{dynamic.rpy}: HTML, JSON and the article's dynamic page.

The .rpy files only fetch the shared objects from the registry and bind one of
these; everything here is importable, so trial tests reach it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote

from twisted.internet.defer import Deferred
from twisted.python.components import Componentized
from twisted.web import http
from twisted.web.pages import errorPage
from twisted.web.resource import Resource
from twisted.web.server import Request

from weblog.answers import Rendered, rendered_for
from weblog.auth import protect
from weblog.document import hit_json, hits_json
from weblog.errors import BadQuery
from weblog.events import EventHub, hub_for
from weblog.hit import count_of
from weblog.interfaces import ICounter, IEventHub, IRecords
from weblog.panelcsv import (HEADERS, LIVE_HEADERS, LIVE_PANELS, MOST, csv_rows, csv_steps,
                             csv_text, hits_rows, panel_of, rows_of)
from weblog.question import parse_question
from weblog.selection import Selection, parse_query
from weblog.historypage import history_page
from weblog.views import ask_history, history_json
from weblog.watch import watch_of

__all__ = ["CsvPage", "DynamicPage", "EventsPage", "JsonPage", "WeblogPage", "bad_request",
           "protect", "security_headers"]
"""C{protect} is here too, so that weblog.rpy needs one import of this module."""

CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def security_headers(request: Request) -> None:
    """Set the headers every weblog response carries: CSP, nosniff, no referrer, no caching."""
    request.setHeader(b"content-security-policy", CONTENT_SECURITY_POLICY)
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"no-referrer")
    request.setHeader(b"cache-control", b"no-store")


def bad_request(request: Request, error: BadQuery) -> bytes | int:
    """Answer 400 with Twisted's error page, whose paragraph is the one-line reason."""
    return cast("bytes | int", errorPage(400, http.RESPONSES[400].decode(), str(error))
                .render(request))  # NOT_DONE_YET: Twisted's flattener writes it


def _selection(request: Request) -> Selection | BadQuery:
    """The request's selection, or why its query is invalid."""
    security_headers(request)
    try:
        return parse_query(request.args or {})
    except BadQuery as error:
        return error


def _base_path(request: Request) -> str:
    """
    The URL path of the weblog page itself, whatever child was asked for; C{""} at the root.

    Its children's paths are C{base + "/json"}.  Each segment is percent-encoded as received,
    so the path leads back to what this request reached and a browser can read no other host
    in it: it is empty or starts with one C{/} and then neither C{/} nor C{\\}.
    """
    prepath = list(request.prepath or [])
    while prepath and prepath[-1] in (b"json", b"events", b"csv", b""):
        prepath.pop()
    path = "".join("/" + quote(segment, safe="") for segment in prepath)
    if path.startswith("//"):
        path = "/." + path  # an empty first segment: a browser reads "/.//x" as the path "//x"
    return path


class _ViewPage(Resource):
    """A page of a view of the records, answered (and kept) through a Rendered."""

    isLeaf = True

    def __init__(self, records: IRecords, rendered: Rendered | None = None) -> None:
        """@param rendered: where its answers are kept (default: its own, for this object)."""
        super().__init__()
        self.records = records
        self.rendered = rendered if rendered is not None else Rendered(records)


class JsonPage(_ViewPage):
    """C{/weblog.rpy/json}: the same selection as the HTML page, as JSON."""

    def render_GET(self, request: Request) -> bytes | int:
        """Answer with the selected hits as JSON (from the history for a window or a
        filter of it), or 400 for a bad query."""
        selection = _selection(request)
        if isinstance(selection, BadQuery):
            return bad_request(request, selection)
        self.records.refresh()
        try:
            question = parse_question(request.args or {})
            if question is not None:
                return history_json(request, self.records, self.rendered, selection, question)
        except BadQuery as error:
            return bad_request(request, error)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        aggregates = self.records.aggregates
        return self.rendered.answer(
            request, ("json", selection), selection, hit_json,
            lambda hits, _, status, history: hits_json(selection, hits, status, history,
                                                       aggregates))


class CsvPage(_ViewPage):
    """C{/weblog.rpy/csv?panel=NAME}: one panel of the same view as the JSON, as CSV."""

    def render_GET(self, request: Request) -> bytes | int:
        """Answer with the panel's rows (from the history for a window or a filter of it), or
        400 for a bad query or a panel the view does not have."""
        args = dict(request.args or {})
        security_headers(request)
        try:
            panel = panel_of(args.pop(b"panel", None))
            selection = parse_query(args)
            question = parse_question(args)
            if question is None and panel not in LIVE_PANELS:
                raise BadQuery("panel", (
                    f"{panel!r} needs the history, which is off (WEBLOG_HISTORY=off)"
                    if self.records.history is None else
                    f"{panel!r} needs a history view: add range=all, or from/to"))
            request.setHeader(b"content-disposition",
                              b'inline; filename="weblog-%s.csv"' % panel.encode("ascii"))
            if question is not None:
                return ask_history(
                    request, self.records, self.rendered, ("csv", panel), _CSV, selection,
                    question, lambda answer, _: self._written(HEADERS[panel],
                                                              rows_of(panel, answer)),
                    lambda reason: _unanswered(request, reason), top=MOST)
        except BadQuery as error:
            request.responseHeaders.removeHeader(b"content-disposition")
            return bad_request(request, error)
        self.records.refresh()
        request.setHeader(b"content-type", _CSV)
        aggregates = self.records.aggregates
        header = LIVE_HEADERS[panel]

        def assemble(hits: list[bytes], *_: object) -> list[bytes | Deferred[bytes]]:
            if panel == "hits":
                return [csv_text(header, []), *hits]
            written = self._written(header, rows_of(panel, {"hits": [], **aggregates.to_json(
                MOST)}))
            return [written.addCallback(b"".join)] if isinstance(written, Deferred) else [
                *written]

        return self.rendered.answer(
            request, ("csv", panel, selection), selection,
            lambda hit: csv_rows(hits_rows([hit.to_json()])), assemble)


    def _written(self, header: Sequence[str], rows: list[list[Any]]
                 ) -> list[bytes] | Deferred[list[bytes]]:
        """The CSV of C{header} and C{rows}, written a slice at a time if it is long."""
        pieces: list[bytes] = []
        writing = self.records.sliced(csv_steps(header, rows, pieces))
        return pieces if writing is None else writing.addCallback(lambda _: pieces)


_CSV = b"text/csv; charset=utf-8"


def _unanswered(request: Request, reason: str) -> None:
    """Answer 503 with the one-line reason the history could not answer, as text."""
    request.setResponseCode(503)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.responseHeaders.removeHeader(b"content-disposition")
    request.write(reason.encode("utf-8") + b"\n")
    request.finish()


class EventsPage(Resource):
    """C{/weblog.rpy/events}: Server-Sent Events, one C{hit} event per new matching hit."""

    isLeaf = True

    def __init__(self, records: IRecords, hub: IEventHub) -> None:
        super().__init__()
        self.records = records
        self.hub = hub

    def render_GET(self, request: Request) -> bytes | int:
        """
        Open a stream of the new hits that match the query (its window and filters too, see
        L{weblog.watch}), or answer 400 for a bad query and 503 when too many are open.
        """
        args = dict(request.args or {})
        since = args.pop(b"since", None)
        security_headers(request)
        try:
            selection = parse_query(args)
            newest = self.records.aggregates.newest_minute
            watched = watch_of(selection, parse_question(args), None if newest is None
                               else datetime.fromtimestamp(newest * 60, UTC))
            last = _since(since)
        except BadQuery as error:
            return bad_request(request, error)
        self.records.refresh()
        return self.hub.open(request, watched, last)


def _since(values: list[bytes] | None) -> int | None:
    """The C{since} parameter of an event stream: the id of the last hit the client has."""
    if not values:
        return None
    if len(values) > 1:
        raise BadQuery("since", "given more than once")
    text = values[0].decode("ascii", "replace")
    since = count_of(text)
    if since is None:
        raise BadQuery("since", f"must be a hit id, a whole number, got {text[:20]!r}")
    return since


class WeblogPage(Resource):
    """C{/weblog.rpy}: the latest hits, newest first, with C{json}, C{csv} and C{events} as
    children."""

    def __init__(self, records: IRecords, heading: str = "Latest hits",
                 hub: IEventHub | None = None, registry: Componentized | None = None) -> None:
        """
        @param hub: the event streams of C{records}; default the one the registry keeps
            (L{hub_for}), else one of the page's own.
        @param registry: the site registry (an .rpy's C{registry}), which keeps the event hub
            and what the page and its JSON rendered for the next requests (L{rendered_for});
            without one, the page keeps its own, for as long as it lives.  (Kept here rather
            than in weblog.rpy: twistd compiles an .rpy again for every request.)
        """
        super().__init__()
        self.records = records
        self.heading = heading
        self.rendered = Rendered(records) if registry is None else rendered_for(registry, records)
        self.putChild(b"json", JsonPage(records, self.rendered))
        self.putChild(b"csv", CsvPage(records, self.rendered))
        if hub is None:
            hub = EventHub(records) if registry is None else hub_for(registry, records)
        self.putChild(b"events", EventsPage(records, hub))

    def getChild(self, path: bytes, request: Request) -> Resource:
        """The page itself for a trailing slash; a 404 resource for anything unknown."""
        if path == b"":
            return self
        return super().getChild(path, request)

    def render_GET(self, request: Request) -> bytes | int:
        """Render the page (from the history for a window or a filter of it), or 400 for a
        bad query."""
        selection = _selection(request)
        if isinstance(selection, BadQuery):
            return bad_request(request, selection)
        self.records.refresh()
        base, heading = _base_path(request), self.heading
        try:
            question = parse_question(request.args or {})
            if question is not None:
                return history_page(request, self.records, self.rendered, selection,
                                    question, base, heading)
        except BadQuery as error:
            return bad_request(request, error)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        fragments = self.rendered.fragments
        return self.rendered.answer(
            request, ("html", selection, base, heading), selection, fragments.hit,
            lambda cells, last_id, status, history: fragments.page(
                selection, cells, base, heading, last_id, status, history))


DYNAMIC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dynamic Page</title>
<link rel="stylesheet" href="/weblog.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
<body>
  <p>Dynamic Page served by Twisted Matrix</p>
  {views}
  <p><a href="/">Home</a> &middot; <a href="/weblog.rpy">Latest hits</a></p>
</body>
</html>
"""

VIEWS = '<p>This page has been viewed <span id="views">{count}</span> times.</p>'
"""The dynamic page's count of views."""

NOT_COUNTED = ('<p id="not-counted">Views of this page are not counted: another weblog server '
               "uses the same state directory (<code>WEBLOG_STATE</code>); this server's log "
               "says which.</p>")
"""What the dynamic page says instead of the count while another server holds the state."""


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
        if self.counter.problem:  # its reason, with a path and a pid, is in the server's log
            return DYNAMIC_PAGE.format(views=NOT_COUNTED).encode()
        return DYNAMIC_PAGE.format(views=VIEWS.format(count=self.counter.getValue())).encode()
