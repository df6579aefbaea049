# -*- test-case-name: tests.test_views -*-
"""
Views of the history: a request's window and filters answered from the store, as JSON.

A request that names a history parameter (L{weblog.question}) is answered by
the historian (L{weblog.history.History.query}), off this process; meanwhile
the reactor serves others.  A history that is off, or that cannot answer now,
says why in one line: C{400} when it is off, C{503} while it cannot answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from weblog.answers import Rendered
from weblog.errors import BadQuery
from weblog.history import QueryFailed
from weblog.hit import json_text
from weblog.interfaces import IRecords
from weblog.queries import PANELS
from weblog.question import Question
from weblog.selection import PARAMETERS, Selection

__all__ = ["ask_history", "history_json", "view_of"]

_log = Logger()


def view_of(selection: Selection, question: Question,
            args: Mapping[bytes, Sequence[bytes]], top: int = 10) -> dict[str, Any]:
    """What the historian is asked (see L{weblog.queries.answer}); C{top}: the most entries
    of each list."""
    return {
        "question": question.to_json(),
        "selection": {name: getattr(selection, name) for name in PARAMETERS},
        "given": [name for name in PARAMETERS if name.encode("ascii") in args],
        "top": top,
    }


def ask_history(request: Request, records: IRecords, rendered: Rendered, kind: tuple[Any, ...],
                content_type: bytes, selection: Selection, question: Question,
                answered: Callable[[dict[str, Any], dict[str, Any]],
                                   list[bytes] | Deferred[list[bytes]]],
                unanswered: Callable[[str], None], top: int = 10) -> bytes | int:
    """
    Answer a request's view of the history: as kept, when it was answered since the store and
    the log last changed; else asked of the history, then C{answered(answer, view)} makes the
    body, or C{unanswered(why)} says in one sentence why there is none (unless the client went
    away meanwhile).

    @param kind: which document the body is, and what else it shows (it is kept by these, the
        view and the statuses).
    @param top: the most entries of each list the history answers.
    @raise BadQuery: when there is no history to ask (C{WEBLOG_HISTORY=off}).
    """
    history = records.history
    if history is None:
        raise BadQuery("range" if question.range else "from",
                       "needs the history, which is off (WEBLOG_HISTORY=off)")
    view = view_of(selection, question, request.args or {}, top)
    key = rendered.stated(*kind, json_text(view))  # the parameters given count, not only values
    kept = rendered.answers.get(key)
    if kept is not None:
        request.setHeader(b"content-type", content_type)
        return kept
    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))

    def failed(failure: Failure) -> None:
        if not failure.check(QueryFailed):
            _log.failure("answering {uri} from the history failed", failure, uri=request.uri)
        if not gone:
            unanswered(str(failure.value) if failure.check(QueryFailed)
                       else "the history could not answer")

    def made(answer: dict[str, Any]) -> list[bytes] | Deferred[list[bytes]] | None:
        return None if gone else answered(answer, view)

    def write(pieces: list[bytes] | None) -> None:
        if pieces is None or gone:
            return
        body = rendered.keep(pieces, key)
        request.setHeader(b"content-type", content_type)
        request.write(body if isinstance(body, bytes) else b"".join(body))
        request.finish()

    asked = history.query(view)
    asked.addCallback(made)
    asked.addCallback(write)
    asked.addErrback(failed)  # also when the answer could not be written
    return NOT_DONE_YET


def history_json(request: Request, records: IRecords, rendered: Rendered, selection: Selection,
                 question: Question) -> bytes | int:
    """
    Answer with the JSON document of a history view, later (503 while it cannot be had).

    @raise BadQuery: when there is no history to ask (C{WEBLOG_HISTORY=off}).
    """
    def answered(answer: dict[str, Any], view: dict[str, Any]) -> list[bytes]:
        return [json_text({
            "log": records.status(),
            "history": records.history_status(),
            "window": answer["window"],
            "query": {**view["selection"], **question.to_json()},
            "hits": answer["hits"],
            "before": answer["before"],
            "top": answer["top"],
            "buckets": answer["buckets"],
            "total": answer["total"],
            **{name: answer[name] for name in PANELS},
        }).encode()]

    def unanswered(reason: str) -> None:
        _write(request, 503, {"error": reason, "history": records.history_status()})

    return ask_history(request, records, rendered, ("json",), b"application/json; charset=utf-8",
                       selection, question, answered, unanswered)


def _write(request: Request, code: int, document: dict[str, Any]) -> None:
    """Write a JSON answer and finish."""
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.write(json_text(document).encode())
    request.finish()
