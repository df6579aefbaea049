# -*- test-case-name: tests.test_pages -*-
"""
The resources behind C{weblog.rpy} and C{dynamic.rpy}: HTML, JSON and the article's dynamic page.

The .rpy files only fetch the shared objects from the registry and bind one of
these; everything here is importable, so trial tests reach it directly.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IPullProducer
from twisted.internet.task import SchedulerStopped
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from weblog.auth import protect
from weblog.errors import BadQuery
from weblog.events import EventHub
from weblog.hit import Hit, count_of, json_text
from weblog.interfaces import ICounter, IEventHub, IRecords
from weblog.render import hit_cells, render_page
from weblog.selection import Selection, parse_query

__all__ = ["DynamicPage", "EventsPage", "JsonPage", "WeblogPage", "protect", "security_headers"]
"""C{protect} is here too, so that weblog.rpy needs one import of this module."""

_log = Logger()

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
    """
    The URL path of the weblog page itself, whatever child was asked for; C{""} at the root.

    Its children's paths are C{base + "/json"}.  Each segment is percent-encoded as received,
    so the path leads back to what this request reached and a browser can read no other host
    in it: it is empty or starts with one C{/} and then neither C{/} nor C{\\}.
    """
    prepath = list(request.prepath or [])
    while prepath and prepath[-1] in (b"json", b"events", b""):
        prepath.pop()
    path = "".join("/" + quote(segment, safe="") for segment in prepath)
    if path.startswith("//"):
        path = "/." + path  # an empty first segment: a browser reads "/.//x" as the path "//x"
    return path


_rendered: WeakKeyDictionary[IRecords, OrderedDict[tuple[Any, ...], bytes]] = WeakKeyDictionary()


CACHE_MOST = 4 << 20
"""The largest answer kept for the next requests; a longer one is rendered for each."""
Assemble = Callable[[list[bytes], int, dict[str, Any]], list[bytes]]
"""Puts a view together from its hits' pieces, the newest hit's id and the log's status."""


@implementer(IPullProducer)
class _Pieces:
    """Writes a long answer a few pieces at a time, as the transport asks for more."""

    def __init__(self, request: Request, pieces: list[bytes]) -> None:
        self.request = request
        self.pieces = deque(pieces)

    def resumeProducing(self) -> None:
        """Write about 64 KiB of pieces; finish once all are written."""
        written = 0
        while self.pieces and written < 64 << 10:
            piece = self.pieces.popleft()
            written += len(piece)
            self.request.write(piece)
        if not self.pieces:
            self.request.unregisterProducer()
            self.request.finish()

    def stopProducing(self) -> None:
        """The client went away: write nothing more."""
        self.pieces.clear()


def _answer(records: IRecords, request: Request, key: tuple[Any, ...], selection: Selection,
            each: Callable[[Hit], bytes], assemble: Assemble) -> bytes | int:
    """
    Answer with a rendered view, kept until the records change (rendered once per change).

    Making the hits of a view can be long (a thousand long lines, or a filter
    that matches little), so it is done in slices: the selected hits are found
    newest first and each is rendered by C{each} a step at a time; once all are,
    C{assemble} puts the view together, in pieces.  A view that is quick to make
    is answered at once; a long one later, the reactor serving others meanwhile;
    and one longer than C{CACHE_MOST} is written a few pieces at a time, never
    joined or kept.

    @param key: what else the answer depends on (the kind of page, the selection).
    @return: the body, or C{NOT_DONE_YET} when it will be written later.
    """
    pages = _rendered.setdefault(records, OrderedDict())
    last_id, status = records.last_id, records.status()  # what the chosen hits go up to
    full = (*key, last_id, repr(status))
    body = pages.get(full)
    if body is not None:
        return body
    chosen: list[bytes] = []

    def done() -> bytes | list[bytes]:
        pieces = assemble(chosen, last_id, status)
        if sum(map(len, pieces)) > CACHE_MOST:
            return pieces
        answer = pages[full] = b"".join(pieces)
        while len(pages) > 32:
            pages.popitem(last=False)
        return answer

    def write(answer: bytes | list[bytes]) -> None:
        if isinstance(answer, bytes):
            request.write(answer)
            request.finish()
        else:
            request.registerProducer(_Pieces(request, answer), False)

    job = records.sliced(selection.choose(records.walk(upto=last_id), chosen,
                                          lambda _, hit: each(hit)))
    if job is None:
        answer = done()
        if isinstance(answer, bytes):
            return answer
        write(answer)
        return NOT_DONE_YET
    request.notifyFinish().addErrback(lambda _: job.cancel())

    def failed(failure: Failure) -> None:
        if failure.check(CancelledError, SchedulerStopped):
            return  # the client went away, or the server stops
        _log.failure("rendering {uri} failed", failure, uri=request.uri)
        request.setResponseCode(500)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.write(b"weblog could not render this view; the server log says why\n")
        request.finish()

    job.addCallback(lambda _: done()).addCallbacks(write, failed)
    return NOT_DONE_YET


def hits_json(records: IRecords, selection: Selection, hits: list[bytes],
              status: dict[str, Any]) -> list[bytes]:
    """
    The JSON document for a selection, in pieces: the log's state, the hits (each as JSON,
    not copied), and the aggregates.
    """
    head = json_text({
        "log": status,
        "query": {"limit": selection.limit, "status": selection.status,
                  "referrer": selection.referrer, "q": selection.q, "bots": selection.bots,
                  "own": selection.own},
        "hits": [],
        **records.aggregates.to_json(),
    }).encode()
    before, after = head.split(b'"hits":[]', 1)  # the only unquoted one: strings are escaped
    pieces = [before, b'"hits":[']
    for index, hit in enumerate(hits):
        pieces += (b"," if index else b"", hit)
    return [*pieces, b"]", after]


def hit_json(hit: Hit) -> bytes:
    """One hit as the JSON document lists it."""
    return json_text(hit.to_json()).encode()


class JsonPage(Resource):
    """C{/weblog.rpy/json}: the same selection as the HTML page, as JSON."""

    isLeaf = True

    def __init__(self, records: IRecords) -> None:
        super().__init__()
        self.records = records

    def render_GET(self, request: Request) -> bytes | int:
        """Answer with the selected hits as JSON, or 400 for a bad query."""
        selection = _selection(request)
        if isinstance(selection, bytes):
            return selection
        self.records.refresh()
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return _answer(
            self.records, request, ("json", selection), selection, hit_json,
            lambda hits, _, status: hits_json(self.records, selection, hits, status))


class EventsPage(Resource):
    """C{/weblog.rpy/events}: Server-Sent Events, one C{hit} event per new matching hit."""

    isLeaf = True

    def __init__(self, records: IRecords, hub: IEventHub) -> None:
        super().__init__()
        self.records = records
        self.hub = hub

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
        self.records.refresh()
        return self.hub.open(request, selection, last)


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
    """C{/weblog.rpy}: the latest hits, newest first, with C{json} and C{events} as children."""

    def __init__(self, records: IRecords, heading: str = "Latest hits",
                 hub: IEventHub | None = None) -> None:
        """
        @param hub: the event streams of C{records}, kept in the site registry beside them
            (see C{weblog.rpy}); without one, the page makes its own.
        """
        super().__init__()
        self.records = records
        self.heading = heading
        self.putChild(b"json", JsonPage(records))
        self.putChild(b"events", EventsPage(records, EventHub(records) if hub is None else hub))

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
        self.records.refresh()
        base = _base_path(request)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return _answer(
            self.records, request, ("html", selection, base, self.heading), selection, hit_cells,
            lambda cells, last_id, status: render_page(self.records, selection, cells, base,
                                                       self.heading, last_id, status))


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
