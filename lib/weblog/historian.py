# -*- test-case-name: tests.test_historian -*-
"""
The historian: the process that keeps the store (C{python -m weblog.historian}).

The server starts it (L{weblog.history}) and talks to it over its standard
input and output with AMP.  Its writer thread is the store's one writer: it
opens the store, stores the logs (L{weblog.storing}) and, when the store cannot
be used, says why and tries again until it can; the reactor thread only
answers the server.  It stops when its input ends: when the server stops or
dies.  It takes its settings from the environment, as the server does.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
from twisted.internet.defer import Deferred, DeferredSemaphore, fail
from twisted.internet.interfaces import IReactorCore
from twisted.internet.threads import deferToThread
from twisted.logger import (FilteringLogObserver, Logger, LogLevel, LogLevelFilterPredicate,
                            globalLogBeginner, textFileLogObserver)
from twisted.protocols import amp
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from weblog import settings
from weblog.errors import ConfigError
from weblog.hit import json_text
from weblog.history import OFF, Query, QueryFailed, Status
from weblog.logformat import compile_format
from weblog.parsing import AUTO, LineParser
from weblog.queries import answer
from weblog.keeping import Held, Keeping
from weblog.store import Store, StoreError, interrupt, set_aside, state_of
from weblog.storeerror import reason_of
from weblog.storing import Storing, share_python

__all__ = ["Historian", "main"]

_log = Logger()

RETRY = 2.0
"""Seconds between two tries at a store that could not be used."""
IDLE = 1.0
"""Seconds between two looks at logs that had nothing new."""
QUERY_SECONDS = 10.0
"""The longest a view's query runs before it is cancelled."""
MOST_LISTED = 1000
"""The most entries of a list a view may ask for (the CSV's)."""
QUERIES_AT_ONCE = 2
"""How many views are answered at once; the others wait their turn."""
NICENESS = 10
"""How much lower than the server's the historian's scheduling priority is."""
SMALLEST_BATCH = 256 << 10
"""The least bytes of a log stored in one batch, however full the disk was."""


class Historian:
    """
    Keeps the store of the logs at C{paths}: opens it, runs its writer, recovers its states.

    L{run} runs in the writer thread; L{status} may be called from any thread (it reads one
    dictionary that the writer replaces whole).
    """

    def __init__(self, store_path: str, paths: Sequence[str], parser: LineParser = AUTO,
                 memory_mb: int = settings.HISTORY_MEMORY, threads: int = 2,
                 retry: float = RETRY, idle: float = IDLE, problem: str = "",
                 retain_days: int = 400, max_bytes: int = 0, spool: str | None = None) -> None:
        """
        @param memory_mb: the most MiB DuckDB may use once the store has caught up with the
            logs (until then, at most L{settings.BACKFILL_MEMORY}: L{Keeping.fit_memory}).
        @param problem: why the settings cannot be used (the store is then not opened).
        @param retain_days: how many days of hits back from the newest are kept.
        @param max_bytes: the cap on the store's files (0: none).
        @param spool: the syslog spool's directory, whose files are stored too (else None).
        """
        self.keeping = Keeping(retain_days, max_bytes, memory=memory_mb)
        self.store_path = store_path
        self.paths, self.spool = list(paths), spool
        self.parser = parser
        self.threads = threads
        self.retry = retry
        self.idle = idle
        self._stopping = threading.Event()
        self._status: dict[str, Any] = {**OFF, "state": "starting", "reason": "",
                                        "max_bytes": max_bytes or None}
        self._problem = problem
        self._rebuilding = ""
        """Why the store is being rebuilt from the logs, until it has caught up, else C{""}."""
        self._rebuilt_state = ""
        """The state said meanwhile: C{corrupt}, or C{""} for the usual C{backfilling}."""
        self._store: Store | None = None
        self._queries = DeferredSemaphore(QUERIES_AT_ONCE)
        self._found_corrupt = ""
        """Why a query found the store corrupt (the writer then sets it aside), else C{""}."""
        self._batch_bytes = self.keeping.batch_bytes
        """How much of a log the writer stores in one batch: less after the disk was full."""

    def status(self) -> dict[str, Any]:
        """The C{history} object: the store's state, what it holds and how far it is."""
        return self._status

    def stop(self) -> None:
        """Ask the writer to stop after the batch it is storing."""
        self._stopping.set()

    def _say(self, state: str, reason: str = "", **more: Any) -> None:
        """Replace the status with C{state} and C{reason}, keeping what else it said."""
        self._status = {**self._status, **more, "state": state, "reason": reason}

    def run(self) -> None:
        """Open the store and store the logs until stopped; wait and try again on trouble."""
        if self._problem:
            self._say("unwritable", self._problem)
            return
        while not self._stopping.is_set():
            store = self._open()
            if store is None:
                self._stopping.wait(self.retry)
                continue
            corrupt = None
            try:
                self._store = store
                self._store_into(store)
            except StoreError as error:
                self._say(error.state, str(error))
                _log.warn("history: {reason}", reason=str(error))
                corrupt = error if error.state == "corrupt" else None
                if error.state == "full":  # smaller batches fit in less room
                    self._batch_bytes = max(self._batch_bytes // 8, SMALLEST_BATCH)
            except Exception as error:  # not foreseen: said and logged, and tried again
                _log.failure("history: the writer failed; it starts again")
                self._say("starting", f"the writer failed ({type(error).__name__}: {error});"
                                      " it starts again")
            finally:
                self._store = None
                try:
                    store.close()
                except Exception:
                    _log.failure("history: the store did not close")
            if corrupt is not None and self._set_aside(corrupt):
                continue  # rebuilt at once, from the logs
            self._stopping.wait(self.retry)

    def _open(self) -> Store | None:
        """The store, opened (a corrupt one set aside first); None when it cannot be, now."""
        directory = os.path.dirname(self.store_path)
        try:
            if directory:
                os.makedirs(directory, exist_ok=True)
            return Store(self.store_path, f"{self.keeping.opened_memory()}MiB", self.threads,
                         self.keeping.wal_bytes)
        except OSError as error:
            self._say("unwritable", f"{self.store_path}: {error.strerror or error}")
            return None
        except StoreError as error:
            if error.state not in ("corrupt", "older"):
                self._say(error.state, str(error))
                return None
            return self._open() if self._set_aside(error) else None

    def _set_aside(self, error: StoreError) -> bool:
        """Move a corrupt store (or one of an older schema) aside, to be rebuilt from the logs;
        say whether it could be."""
        older = error.state == "older"
        try:
            aside = set_aside(self.store_path, f"v{error.version}" if older else "corrupt")
        except OSError as trouble:
            self._say("corrupt", f"{error}; it cannot be set aside: {trouble.strerror or trouble}")
            return False
        self._found_corrupt = ""
        self._rebuilding = (f"{error}{':' if older else ';'} set aside as"
                            f" {os.path.basename(aside)} and rebuilt from the logs")
        self._rebuilt_state = "" if older else "corrupt"
        if older:
            _log.info("history: {reason}", reason=self._rebuilding)
        else:
            _log.warn("history: {reason}", reason=self._rebuilding)
        return True

    def _store_into(self, store: Store) -> None:
        """Store the logs into C{store} until stopped, saying how far it is after each batch."""
        held = Held(*store.summary())
        storing = Storing(store, self.paths, self.parser, self._batch_bytes, on_batch=held.add,
                          spool=self.spool)
        storing.measure()
        try:
            self._store_steps(store, storing, held)
        finally:
            storing.close()

    def _store_steps(self, store: Store, storing: Storing, held: Held) -> None:
        """The writer's loop: a batch, the store kept in its bounds, then the status (which so
        never says what the bounds are about to delete)."""
        held = self._kept(store, storing, held, True)
        while not self._stopping.is_set():
            if self._found_corrupt:
                raise StoreError("corrupt", self._found_corrupt)
            stored = storing.step()
            if not stored:
                storing.measure()
            elif (storing.batch_bytes < self.keeping.batch_bytes  # after a full disk: a whole
                  and 2 * storing.last_batch > storing.batch_bytes):  # batch fitted again
                storing.batch_bytes = self._batch_bytes = min(2 * storing.batch_bytes,
                                                              self.keeping.batch_bytes)
            held = self._kept(store, storing, held, stored)
            progress = storing.progress
            state = "backfilling" if progress.bytes_done < progress.bytes_total else "ok"
            reason = ""
            if self._rebuilding:
                state, reason = self._rebuilt_state or state, self._rebuilding
                if progress.bytes_done >= progress.bytes_total:
                    self._rebuilding = ""  # rebuilt: the next status says ok
            self.keeping.fit_memory(store, progress.bytes_total - progress.bytes_done,
                                    caught_up=not stored)
            self._say(state, reason, **held.to_json(), **progress.to_json(),
                      size_bytes=store.size_bytes())
            if not stored:
                self._stopping.wait(self.idle)

    def _kept(self, store: Store, storing: Storing, held: Held, stored: bool) -> Held:
        """The store brought back within its bounds (see L{Keeping.keep}); what it then holds."""
        if not self.keeping.keep(store, held, stored):
            return held
        held = Held(*store.summary())
        storing.on_batch = held.add
        return held

    def ask(self, view: dict[str, Any],
            threads: Callable[..., Deferred[Any]] = deferToThread) -> Deferred[str]:
        """
        Answer a view (L{weblog.queries.answer}) as JSON text, off the reactor thread;
        cancelled after C{QUERY_SECONDS}.  (The server keeps the answers it wrote, until the
        store changes: L{weblog.views.ask_history}.)

        @return: a Deferred of the answer, or failing with L{QueryFailed} saying why.
        """
        store, status = self._store, self._status
        if store is None:
            return fail(QueryFailed(f"the history is {status['state']}: "
                                    f"{status['reason'] or 'not ready'}"))

        def run() -> str:
            with store.reading() as reader:
                late = threading.Event()

                def stop() -> None:
                    late.set()
                    interrupt(reader)

                timer = threading.Timer(QUERY_SECONDS, stop)  # from when it runs, not queues
                timer.start()
                try:
                    top = min(max(int(view.get("top", 10)), 1), MOST_LISTED)
                    return json_text(answer(reader, view, late.is_set, top))
                finally:
                    timer.cancel()

        def failed(failure: Failure) -> Failure:
            if failure.check(duckdb.InterruptException):
                raise QueryFailed(f"the query took more than {QUERY_SECONDS:.0f} s and was "
                                  "cancelled: a shorter range or more filters answer sooner")
            error = failure.value
            if failure.check(duckdb.Error) and error is not None:
                if state_of(error) == "corrupt":
                    self._found_corrupt = f"{self.store_path}: {reason_of(error)}"
                raise QueryFailed(f"the history could not answer: {reason_of(error)}")
            return failure

        asked: Deferred[str] = self._queries.run(threads, run)
        return asked.addErrback(failed)


class _Server(amp.AMP):
    """The historian's end of the AMP connection to the server."""

    def __init__(self, historian: Historian, lost: Callable[[], None]) -> None:
        super().__init__()
        self._historian = historian
        self._on_lost = lost

    @Status.responder
    def status(self) -> dict[str, str]:
        """The store's status, as JSON text."""
        return {"status": json_text(self._historian.status())}

    @Query.responder
    def query(self, view: str) -> Deferred[dict[str, str]]:
        """A view's answer, as JSON text."""
        asked = self._historian.ask(json.loads(view))
        return asked.addCallback(lambda text: {"answer": text})

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        """The server went away: stop."""
        super().connectionLost(reason)
        self._on_lost()


def historian_from_settings() -> Historian:
    """The historian of the logs, format and state directory the settings name."""
    paths = [part for part in settings.log_path().split(":") if part]
    parser: LineParser = AUTO
    problem, spool = "", None
    try:
        if settings.syslog_listen():
            spool = settings.spool_path()
        if settings.log_format():
            parser = compile_format(settings.log_format())
        memory, threads = settings.history_memory(), settings.history_threads()
        retain, max_mb = settings.retain_days(), settings.history_max_mb()
    except ConfigError as error:
        problem, memory, threads, retain, max_mb = str(error), settings.HISTORY_MEMORY, 2, 400, 0
    return Historian(settings.history_path(), paths, parser, memory, threads, problem=problem,
                     retain_days=retain, max_bytes=max_mb * 1_000_000, spool=spool)


def main() -> None:
    """Run the historian over standard input and output until its input ends."""
    from twisted.internet import reactor
    from twisted.internet.stdio import StandardIO

    core: IReactorCore = reactor
    os.nice(NICENESS)  # the server's pages before the backfill, when they want the same core
    share_python()
    # warnings and errors only: the server logs each line the historian writes to stderr
    observer = FilteringLogObserver(textFileLogObserver(sys.stderr),
                                    [LogLevelFilterPredicate(LogLevel.warn)])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    historian = historian_from_settings()
    writer = threading.Thread(target=historian.run, name="history-writer", daemon=True)

    def lost() -> None:
        historian.stop()
        if core.running:
            core.stop()

    StandardIO(_Server(historian, lost))
    core.callWhenRunning(writer.start)
    core.run()
    historian.stop()
    writer.join(30)


if __name__ == "__main__":
    main()
