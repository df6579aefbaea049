# -*- test-case-name: tests.test_timebox -*-
"""
A statement given up once it runs past a deadline: for the history's usual statements that
have a slower way bounded in memory (L{weblog.apart}), so that values long and many on purpose
cost the view a second or so before it takes that way, not the seconds DuckDB spends spilling
them to disk before it runs out of memory anyway.
"""

from __future__ import annotations

from threading import Lock, Timer
from typing import Any

import duckdb

from weblog.store import interrupt

__all__ = ["LEAST_SECONDS", "TIMES", "TooSlow", "deadline", "within"]

LEAST_SECONDS = 0.5
"""The shortest deadline: a view's usual statement runs for at least so long."""
TIMES = 8
"""A usual statement's deadline, in times the view's chart took: over the same hits, the usual
statements took 0.6 to 1 times as long on the benchmarks' full and varied stores, so a
machine's speed and a store's size do not make them pass it.  Those that do hold many different
values, which the way apart ranks about as fast: 1,000,000 hits of different short URLs in one
minute took 0.66 s the usual way, 0.74 s given up at 0.5 s and ranked apart."""


class TooSlow(Exception):
    """A statement ran past its deadline, and was interrupted."""


def deadline(chart_seconds: float) -> float:
    """The seconds a view's usual statements may run, for a view whose chart took
    C{chart_seconds} (a pass over its hits that no value's length or number slows down)."""
    return max(LEAST_SECONDS, TIMES * chart_seconds)


def within(connection: duckdb.DuckDBPyConnection, seconds: float, sql: str,
           parameters: list[Any]) -> list[tuple[Any, ...]]:
    """
    The rows of a statement, unless it runs for more than C{seconds}.

    @raise TooSlow: once it has, interrupted (the connection is then free for the next).
    @raise duckdb.InterruptException: when something else interrupted it.
    """
    guard = Lock()
    state = {"running": True, "interrupted": False}

    def give_up() -> None:
        with guard:  # never once the statement is over: the next one is not this one
            if state["running"]:
                state["interrupted"] = True
                interrupt(connection)

    timer = Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        return connection.execute(sql, parameters).fetchall()
    except duckdb.InterruptException:
        if state["interrupted"]:
            raise TooSlow(f"the statement ran for more than {seconds:.1f} s") from None
        raise
    finally:
        with guard:
            state["running"] = False
        timer.cancel()
