# -*- test-case-name: tests.test_events -*-
"""
The text of the events on C{/weblog.rpy/events}, in the Server-Sent Events format.

Every event a stream sends is encoded here: a C{hit} per new hit, a C{stats}
event with the aggregates and the log's state, the heartbeat comment and the
client's reconnection delay.  Each C{data} field is one line of JSON with no
raw C{<}, C{>} or C{&} (L{json_text}), so no value can end an event early.
"""

from __future__ import annotations

from typing import Any

from weblog.hit import Hit, json_text
from weblog.interfaces import IRecords
from weblog.render import history_sentence

__all__ = ["HEARTBEAT", "RETRY", "hit_event", "stats_data", "stats_event"]

RETRY = b"retry: 2000\n\n"
"""The first thing a stream sends: reconnect after 2 s when the connection drops."""

HEARTBEAT = b": heartbeat\n\n"
"""A comment sent while a stream is idle, so that proxies keep it open."""


def hit_event(event_id: int, hit: Hit) -> bytes:
    """One C{hit} event, its id the hit's and its data the hit as one line of JSON."""
    return b"id: %d\nevent: hit\ndata: %s\n\n" % (event_id, json_text(hit.to_json()).encode())


def stats_data(records: IRecords) -> dict[str, Any]:
    """
    What a C{stats} event carries: the aggregates (C{top}, C{per_minute}, C{total}) as in
    the JSON document, the log's state as its C{log} object, the history's as its
    C{history} object, and C{history_text}, the page's sentence of it.
    """
    data = records.aggregates.to_json()
    data["log"] = records.status()
    data["history"] = history = records.history_status()
    data["history_text"] = history_sentence(history)
    return data


def stats_event(records: IRecords) -> bytes:
    """One C{stats} event: L{stats_data} as one line of JSON."""
    return b"event: stats\ndata: %s\n\n" % json_text(stats_data(records)).encode()
