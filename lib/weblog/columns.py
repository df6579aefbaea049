# -*- test-case-name: tests.test_columns -*-
"""
A batch of lines, as read, made into the store's columns: each distinct value cleaned once.

What L{weblog.parsing.hit_of} does for one line (escapes undone, text made
visible and bounded), done here a column at a time: a batch of a log holds few
distinct resources, referrers, user-agents or statuses, so each is worked out
once per batch and the rest is a lookup in C.  The result is the same as
making every line's hit (L{weblog.store.COLUMNS}, in order), with what is
looked up of it (browser, system and device by L{weblog.agents}, country by
L{weblog.countries}) once per distinct user-agent and client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from weblog.agents import agent_of
from weblog.cleaning import clean
from weblog.countries import country_of
from weblog.memo import Memo
from weblog.panels import referring_site
from weblog.parsing import Logged, Raw, as_text, referrer_of, request_of
from weblog.selection import answered, is_bot, is_own_request
from weblog.timestamps import parse_time

__all__ = ["columns_of", "number", "own", "site", "text", "vhost"]

_METHOD, _RESOURCE, _PROTOCOL = itemgetter(0), itemgetter(1), itemgetter(2)
_BROWSER, _SYSTEM, _DEVICE = itemgetter(0), itemgetter(1), itemgetter(2)


def _each_once(values: Sequence[Any], function: Callable[[Any], Any]) -> list[Any]:
    """C{function} of each of C{values}, called once for each distinct one."""
    known = {value: function(value) for value in set(values)}
    return list(map(known.__getitem__, values))


def text(raw: Raw) -> str:
    """A field that is always there, as a hit shows it."""
    return clean(as_text(raw))


def number(raw: Raw) -> int | None:
    """A status or byte count as logged (C{-} or digits), as a hit has it."""
    return None if raw == "-" or raw == b"-" else int(raw)


def vhost(raw: Raw | None) -> str | None:
    """A vhost as logged, as a hit shows it."""
    return None if raw is None else clean(as_text(raw))


def site(referrer: str | None) -> str | None:
    """The referring site of a referrer as a hit shows it."""
    return None if referrer is None else _referring_site(referrer)


_referring_site = Memo(referring_site)
"""Referring sites worked out once per referrer, in memory bounded by the referrers' bytes."""


def own(request: tuple[str | None, str, str | None]) -> bool:
    """Whether a request (split and cleaned) is for one of weblog's own pages (its own if the
    status says weblog answered it: L{weblog.selection.answered})."""
    return is_own_request(request[0], request[1])


def columns_of(lines: Sequence[Logged], source: str | None = None) -> list[list[Any]]:
    """
    The store's columns (L{weblog.store.COLUMNS}) of a batch of lines as read.

    @param source: the log they came from, when several are followed.
    """
    client, ident, user, when, request, status, size, referrer, agent, vhosts, duration = (
        list(column) for column in zip(*lines, strict=True))
    requests: list[Any] = _each_once(request, request_of)
    referrers = _each_once(referrer, referrer_of)
    agents = _each_once(agent, referrer_of)  # the same cleaning as a referrer's
    statuses = _each_once(status, number)
    clients = _each_once(client, text)
    looked_up = _each_once(agents, agent_of)
    return [
        clients,
        _each_once(ident, text),
        _each_once(user, text),
        _each_once(when, parse_time),
        list(map(_METHOD, requests)),
        list(map(_RESOURCE, requests)),
        list(map(_PROTOCOL, requests)),
        statuses,
        _each_once(size, number),
        referrers,
        agents,
        _each_once(vhosts, vhost),
        [source] * len(lines),
        duration,
        _each_once(referrers, site),
        _each_once(agents, is_bot),
        [mine and answered(code) for mine, code in zip(_each_once(requests, own), statuses,
                                                       strict=True)],
        list(map(_BROWSER, looked_up)),
        list(map(_SYSTEM, looked_up)),
        list(map(_DEVICE, looked_up)),
        _each_once(clients, country_of),
    ]
