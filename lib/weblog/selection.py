# -*- test-case-name: tests.test_selection -*-
"""
Which kept hits a weblog page shows: its query parameters, validated, and the filter they make.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import TypeVar
from urllib.parse import urlencode

from crawleruseragents import is_crawler

from weblog.errors import BadQuery
from weblog.hit import Hit
from weblog.memo import Memo
from weblog.question import HISTORY_PARAMETERS, single
from weblog.parsing import Parts, Raw, request_of

__all__ = ["ANSWERED", "BOTS", "METRICS_MARK", "OWN_MARK", "BadQuery", "Selection", "answered",
           "is_bot", "is_own", "is_own_logged", "is_own_request", "parse_query"]

T = TypeVar("T")

PARAMETERS = ("limit", "status", "referrer", "q", "bots", "own")
BOTS = ("include", "exclude", "only")
"""The values of C{bots}: every hit, no crawler's, or only crawlers'."""
MAX_LIMIT = 1000
MAX_Q = 200
_STATUS = re.compile(r"(?:[1-5]\d\d|[1-5]xx|all)\Z", re.ASCII)


_OWN_PAGES = frozenset(("/weblog.rpy", "/weblog.rpy/", "/weblog.rpy/json", "/weblog.rpy/events",
                        "/weblog.rpy/csv", "/metrics.rpy"))
_OWN_ASSETS = frozenset(("/weblog.css", "/weblog.js"))
_OWN_NAMES = frozenset((*PARAMETERS, *HISTORY_PARAMETERS, "since", "panel"))


def is_own_request(method: str | None, resource: str) -> bool:
    """
    Whether a request is exactly one that weblog's own page makes of weblog.

    That is a C{GET} of the page, its C{json}, C{csv} or C{events}, or of the metrics
    (a scrape), with none but weblog's own query parameters, or of C{/weblog.css} or C{/weblog.js}
    without a query: nothing that merely starts like them (such as
    C{/weblog.rpy/../wp-login.php} or C{/weblog.js?../../etc/passwd}).
    """
    if method != "GET":
        return False
    path, mark, query = resource.partition("?")
    if path in _OWN_ASSETS:
        return not mark
    if path not in _OWN_PAGES:
        return False
    return not query or all(pair.partition("=")[0] in _OWN_NAMES for pair in query.split("&"))


ANSWERED = frozenset({*(str(code) for code in range(200, 300)), "304"}
                    | {*(str(code).encode() for code in range(200, 300)), b"304"})
"""The statuses (as logged) of an own request that weblog answered: a 2xx or a 304.  Any other
(a 401 of a password guessed, a 404 of a probe) is traffic like any hit, never hidden."""


def answered(status: int | None) -> bool:
    """Whether a status says weblog answered the request (L{ANSWERED})."""
    return status is not None and (200 <= status < 300 or status == 304)


def is_own(hit: Hit) -> bool:
    """Whether C{hit} is one of weblog's own page loads (the monitor watching itself): a request
    for one of its pages that it answered."""
    return answered(hit.status) and is_own_request(hit.method, hit.resource)


_own_logged = Memo(lambda request: is_own_request(*request_of(request)[:2]))


OWN_MARK = b"/weblog."
"""What every one of weblog's own requests holds, as logged: a line without it is not one.
(Test it with C{find()}, not C{in}: C{bytes in bytes} first tries the operand as an int, and
raising and clearing that TypeError costs more than the search.)"""
METRICS_MARK = b"/metrics.rpy"
"""What a scrape of the metrics holds, as logged (as L{OWN_MARK} does every other own request)."""


def is_own_logged(request: Raw | Parts) -> bool:
    """L{is_own_request} for a request line as logged, as its hit would say."""
    return bool(_own_logged(request))


@lru_cache(maxsize=8192)
def is_bot(agent: str | None) -> bool:
    """
    Whether a user-agent is a crawler's, by the crawler-user-agents list.

    @param agent: the user-agent as parsed; None (no user-agent) counts as a bot.
    """
    return agent is None or is_crawler(agent)


@dataclass(frozen=True)
class Selection:
    """
    A filter over hits, made from a page's query parameters.

    @ivar limit: the most hits to show.
    @ivar status: C{"200"}-style exact status, C{"2xx"}-style class, or C{"all"}.
    @ivar referrer: C{"required"} to show only hits with a referrer, or C{"any"}.
    @ivar q: a substring that the resource or the referrer must contain; C{""} for any.
    @ivar bots: C{"include"}, C{"exclude"} to hide crawlers (and hits without a user-agent),
        or C{"only"} to show nothing else.
    @ivar own: C{"hide"} to hide weblog's own page loads and streams, or C{"show"}.
    """

    limit: int = 35
    status: str = "200"
    referrer: str = "required"
    q: str = ""
    bots: str = "include"
    own: str = "hide"

    def matches(self, hit: Hit) -> bool:
        """Return whether C{hit} passes this filter (the limit aside)."""
        if self.referrer == "required" and hit.referrer is None:
            return False
        if self.own == "hide" and is_own(hit):
            return False
        status = self.status
        if status != "all":
            if hit.status is None:
                return False
            if status.endswith("xx"):
                if hit.status // 100 != int(status[0]):
                    return False
            elif hit.status != int(status):
                return False
        if self.q and self.q not in hit.resource and self.q not in (hit.referrer or ""):
            return False
        if self.bots != "include" and is_bot(hit.agent) != (self.bots == "only"):
            return False
        return True

    def filter_key(self) -> tuple[str, ...]:
        """What decides which hits match (all but the limit): equal keys, equal matches."""
        return (self.status, self.referrer, self.q, self.bots, self.own)

    def select(self, hits: Iterable[Hit]) -> list[Hit]:
        """Return the first C{limit} of C{hits} that match, in their order."""
        matching: Iterator[Hit] = (hit for hit in hits if self.matches(hit))
        return list(islice(matching, self.limit))

    def choose(self, hits: Iterable[tuple[int, Hit]], into: list[T],
               each: Callable[[int, Hit], T]) -> Iterator[None]:
        """
        Put C{each(id, hit)} of the first C{limit} matching C{hits} into C{into}, a step a hit.

        For L{slices.run_sliced}: a page's hits are made (parsed) as they are reached,
        and a hit may be long to make, so each one is a step of its own.
        """
        for hit_id, hit in hits:
            if self.matches(hit):
                into.append(each(hit_id, hit))
                if len(into) >= self.limit:
                    return
            yield None

    def query(self) -> str:
        """Return the query string that makes this selection, defaults left out."""
        default = Selection()
        pairs = [
            (name, str(getattr(self, name)))
            for name in PARAMETERS
            if getattr(self, name) != getattr(default, name)
        ]
        return urlencode(pairs)


def _shown(value: str) -> str:
    """Quote a bad value for an error message, cut short."""
    return repr(value if len(value) <= 20 else value[:20] + "...")


def parse_query(args: Mapping[bytes, Sequence[bytes]]) -> Selection:
    """
    Validate a request's query parameters into a L{Selection}.

    @param args: the request's C{args}: parameter names to lists of values.
    @return: the selection.
    @raise BadQuery: for an unknown, repeated or invalid parameter.
    """
    for name in args:
        text = name.decode("utf-8", "replace")
        if text not in PARAMETERS and text not in HISTORY_PARAMETERS:  # those: question.py
            shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
            raise BadQuery(shown[:40], "unknown parameter")
    default = Selection()
    limit = single(args, "limit")
    if limit is not None and not (
        limit.isascii() and limit.isdigit() and len(limit) <= 4 and 1 <= int(limit) <= MAX_LIMIT
    ):
        raise BadQuery(
            "limit", f"must be a whole number from 1 to {MAX_LIMIT}, got {_shown(limit)}"
        )
    status = single(args, "status")
    if status is not None and not _STATUS.match(status):
        raise BadQuery(
            "status", f"must be a status like 200, a class like 2xx, or all, got {_shown(status)}"
        )
    referrer = single(args, "referrer")
    if referrer is not None and referrer not in ("required", "any"):
        raise BadQuery("referrer", f"must be required or any, got {_shown(referrer)}")
    q = single(args, "q")
    if q is not None and len(q) > MAX_Q:
        raise BadQuery("q", f"must be at most {MAX_Q} characters, got {len(q)}")
    bots = single(args, "bots")
    if bots is not None and bots not in BOTS:
        raise BadQuery("bots", f"must be include, exclude or only, got {_shown(bots)}")
    own = single(args, "own")
    if own is not None and own not in ("hide", "show"):
        raise BadQuery("own", f"must be hide or show, got {_shown(own)}")
    return Selection(
        limit=default.limit if limit is None else int(limit),
        status=status or default.status,
        referrer=referrer or default.referrer,
        q=q or "",
        bots=bots or default.bots,
        own=own or default.own,
    )
