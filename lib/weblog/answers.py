# -*- test-case-name: tests.test_pages -*-
"""
The weblog pages' answers, rendered from one Records and kept until it changes.

An .rpy runs again on every request, so what the pages rendered must outlive
each run: the site registry keeps a L{Rendered} under L{IRendered}, beside the
Records it renders, fetched with the article's idiom (L{rendered_for}).  It is
done here rather than in weblog.rpy because twistd compiles an .rpy again for
every request: each statement there costs every request (a second idiom block
in weblog.rpy made the page ~10% slower to serve), and here it is compiled once.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IPullProducer
from twisted.internet.task import SchedulerStopped
from twisted.logger import Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure
from twisted.web.pages import errorPage
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import Interface, implementer

from weblog.fragments import Fragments
from weblog.hit import Hit
from weblog.interfaces import IRecords, kept_for
from weblog.render import Piece, settled
from weblog.selection import Selection

__all__ = ["CACHE_MOST", "IRendered", "Pieces", "Rendered", "changes", "rendered_for"]

_log = Logger()

CACHE_MOST = 4 << 20
"""The largest answer kept for the next requests; a longer one is rendered for each."""
KEPT_ANSWERS = 32
"""How many answers are kept (the newest views asked for)."""
P = TypeVar("P", bound=Piece)
Assemble = Callable[[list[P], int, dict[str, Any], dict[str, Any]], Sequence[Piece]]
"""Puts a view together from its hits' pieces, the newest hit's id, the log's status and the
history's."""


class IRendered(Interface):
    """What the weblog pages rendered from the site's Records, kept for the next requests."""


def changes(status: dict[str, Any]) -> tuple[Any, ...]:
    """
    What of the log's status a view shows, as a key: its counts and states, as they are.

    The counts alone would not do: a log deleted or made unreadable changes its
    state (and the page) without changing any count.
    """
    files = status.get("files")
    return (status["state"], status["reason"], status["lines"], status["malformed"],
            status["rotations"], status["truncations"], status["kept"],
            None if files is None else tuple(tuple(each.values()) for each in files))


@implementer(IPullProducer)
class Pieces:
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


@implementer(IRendered)
class Rendered:
    """
    The answers rendered from one Records, each kept until the Records change, and the
    page fragments they are made of (L{Fragments}).

    @ivar answers: the kept answers, by what they depend on, oldest first.
    """

    def __init__(self, records: IRecords) -> None:
        self.records = records
        self.fragments = Fragments(records)
        self.answers: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()

    def answer(self, request: Request, key: tuple[Any, ...], selection: Selection,
               each: Callable[[Hit], P], assemble: Assemble[P]) -> bytes | int:
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
        records = self.records
        last_id, status = records.last_id, records.status()  # what the chosen hits go up to
        history = records.history_status()
        full = (*key, last_id, changes(status), tuple(history.values()))
        body = self.answers.get(full)
        if body is not None:
            return body
        chosen: list[P] = []

        def done(_: object = None) -> bytes | list[bytes] | Deferred[bytes | list[bytes]]:
            pieces = settled(assemble(chosen, last_id, status, history))
            if isinstance(pieces, Deferred):
                return pieces.addCallback(self.keep, full)
            return self.keep(pieces, full)

        job = records.sliced(selection.choose(records.walk(upto=last_id), chosen,
                                              lambda _, hit: each(hit)))
        if job is None:
            answer = done()
            if isinstance(answer, bytes):
                return answer
            if isinstance(answer, list):
                request.registerProducer(Pieces(request, answer), False)
                return NOT_DONE_YET
            job = answer
        else:
            job.addCallback(done)
        request.notifyFinish().addErrback(lambda _: job.cancel())
        job.addCallbacks(lambda answer: _write(request, answer), lambda f: _failed(request, f))
        return NOT_DONE_YET

    def stated(self, *key: Any) -> tuple[Any, ...]:
        """C{key} with what a view of the history also shows: the log's status and the
        history's (which says when the store changed)."""
        return (*key, changes(self.records.status()), tuple(self.records.history_status().values()))

    def keep(self, pieces: list[bytes], key: tuple[Any, ...]) -> bytes | list[bytes]:
        """An answer's pieces joined and kept; left in pieces when longer than C{CACHE_MOST}."""
        if sum(map(len, pieces)) > CACHE_MOST:
            return pieces
        answer = self.answers[key] = b"".join(pieces)
        while len(self.answers) > KEPT_ANSWERS:
            self.answers.popitem(last=False)
        return answer


def rendered_for(registry: Componentized, records: IRecords) -> Rendered:
    """The Rendered the site registry keeps for C{records}, made at the first request."""
    rendered: Rendered = kept_for(registry, IRendered, records, Rendered)
    return rendered


def _write(request: Request, answer: bytes | list[bytes]) -> None:
    """Write an answer made later: at once, or a few pieces at a time when long."""
    if isinstance(answer, bytes):
        request.write(answer)
        request.finish()
    else:
        request.registerProducer(Pieces(request, answer), False)


def _failed(request: Request, failure: Failure) -> None:
    """A view could not be made: log why, and answer 500 (unless the client went away)."""
    if failure.check(CancelledError, SchedulerStopped):
        return  # the client went away, or the server stops
    _log.failure("rendering {uri} failed", failure, uri=request.uri)
    errorPage(500, "Internal Server Error",
              "weblog could not render this view; the server log says why").render(request)
