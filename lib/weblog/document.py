# -*- test-case-name: tests.test_pages -*-
"""
The JSON documents the pages answer, built in one place: a view's document and a hit in it.

Every string in them came from the log; L{weblog.hit.json_text} writes them with no raw
C{<}, C{>} or C{&}, so the documents are safe to read anywhere, even inside HTML.  (A stats
event's data, the same aggregates with the log's state, is L{weblog.sse.stats_data}.)
"""

from __future__ import annotations

from typing import Any

from weblog.aggregates import Aggregates
from weblog.hit import Hit, json_text
from weblog.selection import PARAMETERS, Selection

__all__ = ["hit_json", "hits_json"]


def hit_json(hit: Hit) -> bytes:
    """One hit as the JSON document lists it."""
    return json_text(hit.to_json()).encode()


def hits_json(selection: Selection, hits: list[bytes], status: dict[str, Any],
              history: dict[str, Any], aggregates: Aggregates) -> list[bytes]:
    """
    The JSON document of a view, in pieces: the log's state, the history's, the query, the
    hits, the aggregates.

    @param hits: the selected hits, each as L{hit_json} wrote it (not copied).
    @param status: the log's status when they were chosen (the C{log} object).
    @param history: the history's status (the C{history} object).
    """
    head = json_text({
        "log": status,
        "history": history,
        "query": {name: getattr(selection, name) for name in PARAMETERS},
        "hits": [],
        **aggregates.to_json(),
    }).encode()
    before, after = head.split(b'"hits":[]', 1)  # the only unquoted one: strings are escaped
    pieces = [before, b'"hits":[']
    for index, hit in enumerate(hits):
        pieces += (b"," if index else b"", hit)
    return [*pieces, b"]", after]

