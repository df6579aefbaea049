# -*- test-case-name: tests.test_batches -*-
"""
A slice of a log, whole lines, made into an Arrow table of the store's columns.

What L{weblog.columns.columns_of} gives for each line's fields, with no Python
work per line: the slice is split into lines, the plain ones (L{PLAIN_ARROW}: no
backslash, common or combined) found and split into their fields by Arrow, in C
(without Python's lock, so that the thread adding the last slice to DuckDB runs
meanwhile), and each column's distinct values cleaned once in Python and spread
back over the rows by their indices, in C.  The other lines (escapes, the other
formats recognised, a C{LogFormat}'s) are read one by one and made by
L{columns_of}.  The rows are the hits in the order of their lines.
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
from weblog.parsing import AUTO, DIGITS, LineParser, Logged, referrer_of, request_of
from weblog.selection import is_bot
from weblog.store import COLUMNS, table_of
from weblog.timestamps import parse_time

__all__ = ["MAX_LINE", "hits_of"]

MAX_LINE = 64 * 1024
"""A longer line is malformed (as the live view's follower says)."""

_WORD = r'[^\t\n\x0b\x0c\r "\[\]\\]+'
_QUOTED = r'"[^"\\]*"'
PLAIN_ARROW = (rf"\A{_WORD} {_WORD} {_WORD} "
               r"\[\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:[0-5]\d [+-]\d{4}\] "
               rf"{_QUOTED} (?:\d{{3}}|-) (?:\d{{1,{DIGITS}}}|-)(?: {_QUOTED} {_QUOTED})?\z")
"""The plain lines (L{weblog.parsing.PLAIN}'s) of which the fields are found by splitting
(L{_fields}), for Arrow's regular expressions (RE2, Latin-1 for bytes): no backslash (no
escapes to undo), no quote (nor bracket) in the client, ident or user, so that the quotes are
the quoted fields' and the time the brackets' at the end of the first part.  The other lines
are read one by one (which gives the same hit for a plain line)."""

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
    if parser is not AUTO:
        lines = _split(data)
        return len(lines), _read_each(lines, range(len(lines)), parser, source)[0]
    try:
        each = _lines(data)
        return len(each), _fast(each, source)
    except pa.ArrowException:  # not met; should it be, the slice is read line by line
        _log.failure("making a slice's hits in Arrow failed; it is read line by line")
        lines = _split(data)
        return len(lines), _read_each(lines, range(len(lines)), parser, source)[0]


def _split(data: bytes) -> list[bytes]:
    """The lines of C{data}, each without its newline (nor a carriage return before it)."""
    lines = data.split(b"\n")
    lines.pop()  # what follows the last newline: nothing
    if data.find(b"\r") >= 0:
        lines = [line.removesuffix(b"\r") for line in lines]
    return lines


def _lines(data: bytes) -> pa.Array:
    """The lines of C{data}, as L{_split} gives them, as an Arrow array (split in C)."""
    lines = pc.split_pattern(pa.array([data], pa.binary()), b"\n").flatten()
    lines = lines.slice(0, len(lines) - 1)  # what follows the last newline: nothing
    if data.find(b"\r") >= 0:
        lines = pc.replace_substring_regex(lines, r"\r\z", "")
    return lines


def _fast(lines: pa.Array, source: str | None) -> pa.Table | None:
    """The hits of C{lines}: the plain ones made a column at a time, the others one by one."""
    plain = pc.and_(pc.match_substring_regex(lines, PLAIN_ARROW),
                    pc.less_equal(pc.binary_length(lines), MAX_LINE))
    count = pc.sum(plain).as_py() or 0
    table = _plain(_fields(lines.filter(plain)), source) if count else None
    if count == len(lines):
        return None if table is None else _valid(table)
    at = pc.indices_nonzero(plain).cast(pa.int64())
    others = pc.indices_nonzero(pc.invert(plain)).cast(pa.int64())
    rest, read = _read_each(lines.take(others).to_pylist(), range(len(others)), AUTO, source)
    if table is None:
        return rest
    valid = pc.is_valid(table["time"]).combine_chunks()
    table, at = table.filter(valid), at.filter(valid)
    if rest is None:
        return table if len(table) else None
    rows = pa.concat_arrays([at, others.take(pa.array(read, pa.int64()))])
    both = pa.concat_tables([table, rest.cast(table.schema)])  # its text as dictionaries too
    return both.take(pc.sort_indices(rows))


def _fields(lines: pa.Array) -> list[pa.Array]:
    """
    The fields of lines that L{PLAIN_ARROW} matches, as L{PLAIN}'s groups but the vhost: split
    at their quotes (only the quoted fields' own), their first part at its spaces, the time
    the 26 bytes in the brackets that end it.
    """
    parts = pc.split_pattern(lines, b'"')
    head = pc.list_element(parts, 0)
    who = pc.split_pattern(pc.binary_slice(head, 0, -30), b" ")  # "client ident user"
    numbers = pc.split_pattern(pc.list_element(parts, 2), b" ")  # " status size[ ]"
    combined = pc.equal(pc.list_value_length(parts), 7)  # else common: 3 parts
    if pc.all(combined).as_py():
        referrer, agent = pc.list_element(parts, 3), pc.list_element(parts, 5)
    else:
        starts = parts.offsets.slice(0, len(parts))
        absent = pa.nulls(len(parts), pa.binary())
        referrer, agent = (pc.if_else(combined, parts.flatten().take(
            pc.add(starts, pc.if_else(combined, at, 0))), absent) for at in (3, 5))
    return [pc.list_element(who, 0), pc.list_element(who, 1), pc.list_element(who, 2),
            pc.binary_slice(head, -28, -2), pc.list_element(parts, 1),
            pc.list_element(numbers, 1), pc.list_element(numbers, 2), referrer, agent]


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


def _plain(fields: list[pa.Array], source: str | None) -> pa.Table:
    """
    The table of plain lines' fields (L{_fields}); a row whose time is not valid has a null
    time (its line is malformed).  Its text columns are dictionary arrays.
    """
    client, ident, user, when, request, status, size, referrer, agent = fields
    requests = request.dictionary_encode()
    split = [_request(value) for value in requests.dictionary.to_pylist()]
    referrers = referrer.dictionary_encode()
    shown = [referrer_of(value) for value in referrers.dictionary.to_pylist()]
    agents = agent.dictionary_encode()
    shown_agents = [referrer_of(value) for value in agents.dictionary.to_pylist()]  # cleaned
    looked_up = [agent_of(value) for value in shown_agents]  # as referrers are
    clients = client.dictionary_encode()
    shown_clients = [_text(value) for value in clients.dictionary.to_pylist()]
    count = len(client)
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
