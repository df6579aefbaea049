# -*- test-case-name: tests.test_views -*-
"""
Views of the history: a request's window and filters answered from the store, as JSON.

A request that names a history parameter (L{weblog.question}) is answered by
the historian (L{weblog.history.History.query}), off this process; meanwhile
the reactor serves others.  A history that is off, or that cannot answer now,
says why in one line: C{400} when it is off, C{503} while it cannot answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request

from weblog.errors import BadQuery
from weblog.history import QueryFailed
from weblog.hit import json_text
from weblog.interfaces import IRecords
from weblog.question import Question
from weblog.selection import PARAMETERS, Selection

__all__ = ["history_json", "view_of"]


def view_of(selection: Selection, question: Question,
            args: Mapping[bytes, Sequence[bytes]]) -> dict[str, Any]:
    """What the historian is asked (see L{weblog.queries.answer})."""
    return {
        "question": question.to_json(),
        "selection": {name: getattr(selection, name) for name in PARAMETERS},
        "given": [name for name in PARAMETERS if name.encode("ascii") in args],
    }


def history_json(request: Request, records: IRecords, selection: Selection,
                 question: Question) -> bytes | int:
    """
    Answer with the JSON document of a history view, later.

    @raise BadQuery: when there is no history to ask (C{WEBLOG_HISTORY=off}).
    """
    history = records.history
    if history is None:
        raise BadQuery("range" if question.range else "from",
                       "needs the history, which is off (WEBLOG_HISTORY=off)")
    view = view_of(selection, question, request.args or {})
    asked = history.query(view)

    def answered(answer: dict[str, Any]) -> None:
        document = {
            "log": records.status(),
            "history": records.history_status(),
            "window": answer["window"],
            "query": {**view["selection"], **question.to_json()},
            "hits": answer["hits"],
            "top": answer["top"],
            "buckets": answer["buckets"],
            "total": answer["total"],
        }
        finish(200, json_text(document).encode())

    def failed(failure: Failure) -> None:
        reason = (str(failure.value) if failure.check(QueryFailed)
                  else "the history could not answer")
        finish(503, json_text({"error": reason, "history": records.history_status()}).encode())

    gone: list[bool] = []
    request.notifyFinish().addErrback(lambda _: gone.append(True))

    def finish(code: int, body: bytes) -> None:
        if not gone:  # else the client went away meanwhile: nothing to write
            _write(request, code, body)

    asked.addCallback(answered).addErrback(failed)  # failed too if the answer is unusable
    return NOT_DONE_YET


def _write(request: Request, code: int, body: bytes) -> None:
    """Write a JSON answer and finish."""
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.write(body)
    request.finish()

