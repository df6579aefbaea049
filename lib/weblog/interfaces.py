# -*- test-case-name: tests.test_records,tests.test_counter -*-
"""
The interfaces that key the site registry: the shared objects every request of an .rpy finds.

An .rpy is executed again on every request, so anything that must outlive a
request lives in the site registry and is fetched with the article's idiom::

    records = registry.getComponent(IRecords)
    if records is None:
        records = Records()
        records.start()
        registry.setComponent(IRecords, records)

The keys are defined here, in an imported module and never in an .rpy, so
that they are the same objects on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

from weblog.hit import Hit

if TYPE_CHECKING:
    from twisted.web.server import Request

    from weblog.selection import Selection

__all__ = ["ICounter", "IEventHub", "IHistory", "IRecords", "kept_for"]


class ICounter(Interface):
    """A count of page views that survives restarts."""

    problem = Attribute("Why views are not counted (another server holds the state), else ''.")

    def increment() -> None:
        """Add one view."""

    def getValue() -> int:
        """Return the number of views so far."""


class IRecords(Interface):
    """The hits of one access log, followed as it grows."""

    path = Attribute("The path of the log followed (several separated by ':').")
    lines = Attribute("Complete lines read since start, including those read back at start.")
    malformed = Attribute("How many of those lines could not be parsed.")
    hit_count = Attribute("How many hits were read since start (valid lines).")
    last_id = Attribute("The id of the newest kept hit; hits are numbered from 1 as read.")
    aggregates = Attribute("The Aggregates over every hit read, weblog's own pages excluded.")
    traffic = Attribute("The Traffic: what the metrics count of the lines read.")

    announced = Attribute("The id of the newest hit the listeners have been told of.")
    history = Attribute("The IHistory storing every hit of the same logs, or None.")

    def sliced(steps: Iterator[Any]) -> Any:
        """Run C{steps} in slices on this Records' clock: None if done at once, else a Deferred."""

    def walk(after: int = 0, upto: int | None = None) -> Iterator[tuple[int, Hit]]:
        """The kept hits after id C{after} (up to id C{upto}), newest first, made when reached."""

    def listen(listener: Callable[[list[Hit], int], None]) -> Callable[[], None]:
        """Call C{listener} with each batch of new hits and the id of its last; return a stopper."""

    def poll() -> bool:
        """Read one slice of what was appended; return whether more work waits."""

    def refresh() -> None:
        """Before answering a request: poll, unless the log was polled a moment ago."""

    def getNew() -> list[Hit]:
        """Read what was appended to the log; return the kept hits, newest first."""

    def newest() -> Iterator[Hit]:
        """Iterate over the kept hits, newest (most recently written) first."""

    def status() -> dict[str, Any]:
        """Return the log's path, state and counts, as in the JSON C{log} object."""

    def history_status() -> dict[str, Any]:
        """Return the history's state and progress, as in the JSON C{history} object."""


class IHistory(Interface):
    """The store of every hit of the logs, kept by a process of its own."""

    def status() -> dict[str, Any]:
        """Return the store's state and progress, as in the JSON C{history} object."""

    def query(view: dict[str, Any]) -> Any:
        """Ask the store a view; a Deferred of its answer (see L{weblog.queries.answer})."""

    def start() -> None:
        """Start keeping the store."""

    def stop() -> None:
        """Stop keeping it."""


class IEventHub(Interface):
    """The live feed of one IRecords: every open event stream, fed the new hits together."""

    records = Attribute("The IRecords whose new hits it feeds.")
    streams = Attribute("The open event streams.")
    dropped = Attribute("How many streams were dropped for not reading.")

    def open(request: Request, selection: Selection, since: int | None = None) -> bytes | int:
        """
        Start an event stream for C{request} of the hits C{selection} matches, after
        hit C{since} if given (its C{Last-Event-ID} header wins over it).

        @return: C{NOT_DONE_YET}, or the body of a 503 when too many streams are open.
        """


def kept_for(registry: Any, key: type[Interface], records: Any, make: Callable[[Any], Any]
             ) -> Any:
    """
    What the site registry keeps under C{key} for C{records}: made by C{make(records)} at the
    first request, and made again for another Records (an edited .rpy may start one).
    """
    kept = registry.getComponent(key)
    if kept is None or kept.records is not records:
        kept = make(records)
        registry.setComponent(key, kept)
    return kept
