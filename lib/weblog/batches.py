# -*- test-case-name: tests.test_batches -*-
"""
A slice of a log, whole lines, made into an Arrow table of the store's columns.

What L{weblog.columns.columns_of} gives for each line's fields, with no Python
work per line but one match: a plain line (L{weblog.parsing.read_line}'s fast
path: no backslash, common or combined) is matched once, its fields gathered
into Arrow columns, and each column's distinct values cleaned once in Python
and spread back over the rows by their indices, in C.  The other lines
(escapes, the other formats recognised, a C{LogFormat}'s) are read one by one
and made by L{columns_of}.  The rows are the hits in the order of their lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from twisted.logger import Logger

from weblog.agents import agent_of
from weblog.columns import columns_of, number, own, site, text
from weblog.countries import country_of
from weblog.errors import LogLineError
from weblog.memo import Memo
from weblog.parsing import AUTO, PLAIN, LineParser, Logged, referrer_of, request_of
from weblog.selection import is_bot
from weblog.store import COLUMNS, table_of
from weblog.timestamps import parse_time

__all__ = ["MAX_LINE", "hits_of"]

MAX_LINE = 64 * 1024
"""A longer line is malformed (as the live view's follower says)."""

_log = Logger()
_KINDS = {name: kind for name, _, kind in COLUMNS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_BOT_OF_NONE, _NO_AGENT = is_bot(None), agent_of(None)
"""What a hit without a user-agent is: a crawler, by L{is_bot}, with no browser or system."""
_BROWSER, _SYSTEM, _DEVICE = itemgetter(0), itemgetter(1), itemgetter(2)
_text, _request = Memo(text), Memo(request_of)
"""Values that repeat slice after slice, worked out once (in bounded memory)."""


def hits_of(data: bytes, parser: LineParser = AUTO,
            source: str | None = None) -> tuple[int, pa.Table | None]:
    """
    The hits of C{data}, whole lines each ending in a newline, as the store's columns.

    @param parser: what reads the lines; only L{AUTO}'s plain lines take the fast path.
    @param source: the log they came from, when several are followed.
    @return: how many lines there were (hits and malformed), and their hits' table (None when
        there is none).
    """
    lines = data.split(b"\n")
    lines.pop()  # what follows the last newline: nothing
    if data.find(b"\r") >= 0:
        lines = [line.removesuffix(b"\r") for line in lines]
    if parser is not AUTO:
        return len(lines), _read_each(lines, range(len(lines)), parser, source)[0]
    try:
        return len(lines), _fast(lines, source)
    except pa.ArrowException:  # not met; should it be, the slice is read line by line
        _log.failure("making a slice's hits in Arrow failed; it is read line by line")
        return len(lines), _read_each(lines, range(len(lines)), parser, source)[0]


def _fast(lines: list[bytes], source: str | None) -> pa.Table | None:
    """The hits of C{lines}: the plain ones made a column at a time, the others one by one."""
    match = PLAIN.match
    found = [match(line) if line.find(b"\\") < 0 and len(line) <= MAX_LINE else None
             for line in lines]
    plain = [each.groups() for each in found if each is not None]  # the vhost's None last
    table = _plain(plain, source) if plain else None
    if len(plain) == len(lines):
        return None if table is None else _valid(table)
    at = pa.array([row for row, each in enumerate(found) if each is not None], pa.int64())
    others = [row for row, each in enumerate(found) if each is None]
    rest, read = _read_each(lines, others, AUTO, source)
    if table is None:
        return rest
    valid = pc.is_valid(table["time"]).combine_chunks()
    table, at = table.filter(valid), at.filter(valid)
    if rest is None:
        return table if len(table) else None
    rows = pa.concat_arrays([at, pa.array(read, pa.int64())])
    both = pa.concat_tables([table, rest.cast(table.schema)])  # its text as dictionaries too
    return both.take(pc.sort_indices(rows))


def _valid(table: pa.Table) -> pa.Table | None:
    """The rows of C{table} whose time was valid; None when there is none."""
    if table["time"].null_count:
        table = table.filter(pc.is_valid(table["time"]))
    return table if len(table) else None


def _read_each(lines: Sequence[bytes], rows: Sequence[int], parser: LineParser,
               source: str | None) -> tuple[pa.Table | None, list[int]]:
    """The hits of the lines at C{rows}, read one by one, as a table, and which of the rows
    they came from (the others are malformed)."""
    logged: list[Logged] = []
    kept: list[int] = []
    read = parser.read
    for row in rows:
        line = lines[row]
        if len(line) > MAX_LINE:
            continue
        try:
            logged.append(read(line))
        except LogLineError:
            continue
        kept.append(row)
    if not logged:
        return None, kept
    return table_of(columns_of(logged, source)), kept


def _over(indices: pa.Array, values: list[Any], kind: Any) -> pa.Array:
    """
    C{values} spread over rows by their C{indices} (a null index, a null): as a dictionary
    array for text, which DuckDB reads as its own (no copy of each row's text here), else
    taken row by row.
    """
    if kind != pa.string():
        return pa.array(values, kind).take(indices)
    if None in values:  # a null is a null index: Arrow cannot merge dictionaries holding nulls
        present = pa.array([value is not None for value in values]).take(indices)
        indices = pc.if_else(present, indices, pa.scalar(None, indices.type))
        values = ["" if value is None else value for value in values]
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, kind))


def _few(indices: pa.Array, values: list[str | None]) -> pa.Array:
    """
    Text C{values} spread over rows by their C{indices}, as L{_over}, for values of which few
    are distinct (what is looked up of an agent or a client): each is one entry of the
    dictionary, which DuckDB then stores (and compresses) as few (a None is a null).
    """
    codes: dict[str, int] = {}
    at = [None if value is None else codes.setdefault(value, len(codes)) for value in values]
    return pa.DictionaryArray.from_arrays(pa.array(at, pa.int32()).take(indices),
                                          pa.array(list(codes), pa.string()))


def _spread(values: pa.Array, function: Callable[[Any], Any], kind: Any) -> pa.Array:
    """C{function} of each of C{values}, called once per distinct one."""
    encoded = values.dictionary_encode()
    return _over(encoded.indices, [function(value) for value in
                                   encoded.dictionary.to_pylist()], kind)


def _plain(rows: list[tuple[Any, ...]], source: str | None) -> pa.Table:
    """
    The table of plain lines' fields (L{PLAIN}'s groups); a row whose time is not valid has a
    null time (its line is malformed).  Its text columns are dictionary arrays.
    """
    client, ident, user, when, request, status, size, referrer, agent = (
        pa.array(column, pa.binary()) for column in list(zip(*rows, strict=True))[:9])
    requests = request.dictionary_encode()
    split = [_request(value) for value in requests.dictionary.to_pylist()]
    referrers = referrer.dictionary_encode()
    shown = [referrer_of(value) for value in referrers.dictionary.to_pylist()]
    agents = agent.dictionary_encode()
    shown_agents = [referrer_of(value) for value in agents.dictionary.to_pylist()]  # cleaned
    looked_up = [agent_of(value) for value in shown_agents]  # as referrers are
    clients = client.dictionary_encode()
    shown_clients = [_text(value) for value in clients.dictionary.to_pylist()]
    count = len(rows)
    statuses = _spread(status, number, _KINDS["status"])

    def of_request(part: Callable[[Any], Any], kind: Any) -> pa.Array:
        return _over(requests.indices, list(map(part, split)), kind)

    def of_agent(part: Callable[[Any], Any]) -> pa.Array:  # no agent: the last
        return _few(agents.indices.fill_null(len(looked_up)),
                    [*map(part, looked_up), part(_NO_AGENT)])

    columns = {
        "client": _over(clients.indices, shown_clients, pa.string()),
        "ident": _spread(ident, _text, pa.string()),
        "user": _spread(user, _text, pa.string()),
        "time": _times(when),
        "method": of_request(itemgetter(0), pa.string()),
        "resource": of_request(itemgetter(1), pa.string()),
        "protocol": of_request(itemgetter(2), pa.string()),
        "status": statuses,
        "bytes": _spread(size, number, _KINDS["bytes"]),
        "referrer": _over(referrers.indices, shown, pa.string()),
        "agent": _over(agents.indices, shown_agents, pa.string()),
        "vhost": pa.nulls(count, pa.string()),
        "source": pa.repeat(pa.scalar(source, pa.string()), count),
        "duration": pa.nulls(count, pa.int64()),  # a plain line has no time taken
        "site": _over(referrers.indices, list(map(site, shown)), pa.string()),
        "bot": _over(agents.indices, list(map(is_bot, shown_agents)), pa.bool_()).fill_null(
            _BOT_OF_NONE),
        "own": _answered_own(of_request(own, pa.bool_()), statuses),
        "browser": of_agent(_BROWSER),
        "system": of_agent(_SYSTEM),
        "device": of_agent(_DEVICE),
        "country": _few(clients.indices, list(map(country_of, shown_clients))),
    }
    return pa.table([columns[name] for name, _, _ in COLUMNS],
                    names=[name for name, _, _ in COLUMNS])


def _answered_own(mine: pa.Array, statuses: pa.Array) -> pa.Array:
    """Whether each hit is one of weblog's own: a request for its pages (C{mine}) that it
    answered (a 2xx or a 304, as L{weblog.selection.answered} says)."""
    ok = pc.or_(pc.and_(pc.greater_equal(statuses, 200), pc.less(statuses, 300)),
                pc.equal(statuses, 304))
    return pc.and_(mine, ok.fill_null(False))


def _times(stamps: pa.Array) -> pa.Array:
    """
    The times of plain lines' stamps (C{dd/Mon/yyyy:hh:mm:ss +zzzz}), each minute worked out
    once: a time is its minute's (with C{:00} seconds) and its seconds, since a zone is whole
    minutes; a stamp whose minute is not a valid time is not one either, and is null.
    """
    minutes = pc.binary_join_element_wise(pc.binary_slice(stamps, 0, 18),
                                          pc.binary_slice(stamps, 20, 26), b"00")
    encoded = minutes.dictionary_encode()
    starts = pa.array([_microseconds(minute) for minute in encoded.dictionary.to_pylist()],
                      pa.int64()).take(encoded.indices)
    seconds = pc.cast(pc.cast(pc.binary_slice(stamps, 18, 20), pa.string()), pa.int64())
    return pc.add(starts, pc.multiply(seconds, 1_000_000)).cast(_KINDS["time"])


def _microseconds(stamp: bytes) -> int | None:
    """A stamp's time in microseconds since the epoch, or None when it is not a valid time."""
    try:
        return (parse_time(stamp) - _EPOCH) // _MICROSECOND
    except ValueError:
        return None
