# -*- test-case-name: tests.test_metrics -*-
"""
Prometheus metrics of a Records: what was read, what it held, the event streams and the
history, collected when they are asked for (C{www/metrics.rpy}).

prometheus-client writes the exposition format; L{RecordsCollector} gives it
the numbers that Records and its event hub keep, on the reactor thread, at
each scrape (so nothing is counted twice, and nothing costs anything between
scrapes).  Every label set is bounded (L{weblog.traffic}).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                   HistogramMetricFamily, Metric)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from twisted.web.resource import Resource
from twisted.web.server import Request

from weblog.interfaces import IEventHub, IRecords
from weblog.traffic import BOUNDS

__all__ = ["HISTORY_STATES", "MetricsPage", "RecordsCollector"]

HISTORY_STATES = ("off", "starting", "backfilling", "ok", "locked", "unwritable", "full",
                  "corrupt")
"""The history's states, each a series of C{weblog_history_state} (1 for the current one)."""


class RecordsCollector(Collector):
    """The metrics of one Records (and of its event hub, when there is one)."""

    def __init__(self, records: IRecords, hub: IEventHub | None = None) -> None:
        self.records = records
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        """Each metric family, with the values they have now."""
        traffic = self.records.traffic
        lines = CounterMetricFamily("weblog_lines", "Complete lines read, by log.",
                                    labels=["source"])
        malformed = CounterMetricFamily("weblog_malformed", "Lines read that could not be "
                                        "parsed (or were too long), by log.", labels=["source"])
        for source in sorted(traffic.lines):
            lines.add_metric([source], traffic.lines[source])
            malformed.add_metric([source], traffic.malformed[source])
        yield lines
        yield malformed
        hits = CounterMetricFamily("weblog_hits", "Hits read (weblog's own requests left out), "
                                   "by status class, method and virtual host.",
                                   labels=["status_class", "method", "vhost"])
        for labels, count in sorted(traffic.hits().items()):
            hits.add_metric(labels, count)
        yield hits
        yield CounterMetricFamily("weblog_bytes", "Bytes the hits read say were sent.",
                                  value=traffic.bytes)
        if any(traffic.durations):
            yield _histogram(traffic.durations, traffic.duration_sum)
        yield GaugeMetricFamily("weblog_ingest_lag_seconds", "Seconds since the server last "
                                "read the logs to their end.", value=traffic.lag())
        status = self.records.status()
        yield from _logs(status)
        yield from _syslog(status.get("syslog"))
        yield from self._streams()
        yield from self._history(self.records.history_status())

    def _streams(self) -> Iterator[Metric]:
        """The open event streams, and those dropped for falling behind."""
        hub = self.hub
        yield GaugeMetricFamily("weblog_event_streams", "Event streams open.",
                                value=0 if hub is None else len(hub.streams))
        yield CounterMetricFamily("weblog_event_streams_dropped", "Event streams dropped for "
                                  "not reading.", value=0 if hub is None else hub.dropped)

    def _history(self, status: dict[str, Any]) -> Iterator[Metric]:
        """The history's state, what it stores and how far its backfill is."""
        state = GaugeMetricFamily("weblog_history_state", "1 for the history's state.",
                                  labels=["state"])
        for name in HISTORY_STATES:
            state.add_metric([name], 1.0 if status.get("state") == name else 0.0)
        yield state
        if status.get("state") == "off":
            return
        yield GaugeMetricFamily("weblog_history_hits", "Hits in the history's store.",
                                value=status.get("stored") or 0)
        yield GaugeMetricFamily("weblog_history_size_bytes", "Bytes of the store's files.",
                                value=status.get("size_bytes") or 0)
        done, total = status.get("bytes_done") or 0, status.get("bytes_total") or 0
        yield GaugeMetricFamily("weblog_history_backfill_ratio", "How much of the logs' bytes "
                                "the history has stored, 0 to 1.",
                                value=1.0 if not total else min(done / total, 1.0))


def _logs(status: dict[str, Any]) -> Iterator[Metric]:
    """Whether each log (of the JSON C{log} object C{status}) is followed (1) or in trouble
    (0)."""
    up = GaugeMetricFamily("weblog_log_up", "1 when the log is followed, 0 when it is "
                           "missing, unreadable or misconfigured.", labels=["source"])
    for each in status.get("files") or [status]:
        up.add_metric([each.get("source", each["path"])], 1.0 if each["state"] == "ok" else 0.0)
    yield up


def _syslog(status: dict[str, Any] | None) -> Iterator[Metric]:
    """What the syslog receiver received, when it listens (C{$WEBLOG_SYSLOG})."""
    if status is None:
        return
    for name, what in (("messages", "Syslog messages received"),
                       ("malformed", "Syslog messages that were not syslog, left out"),
                       ("cut", "Syslog messages too long, cut")):
        family = CounterMetricFamily(f"weblog_syslog_{name}", f"{what}, by transport.",
                                     labels=["transport"])
        for transport, count in sorted(status[name].items()):
            family.add_metric([transport], count)
        yield family
    yield GaugeMetricFamily("weblog_syslog_up", "1 when every syslog listener listens and the"
                            " spool is written, else 0.", value=float(status["state"] == "ok"))
    yield GaugeMetricFamily("weblog_syslog_connections", "Syslog TCP connections open.",
                            value=status["connections"])
    yield CounterMetricFamily("weblog_syslog_refused", "Syslog TCP connections closed at once,"
                              " past the most open.", value=status["refused"])
    yield GaugeMetricFamily("weblog_syslog_senders", "Senders (host and tag) with a spool"
                            " file.", value=status["senders"])
    yield CounterMetricFamily("weblog_syslog_overflowed", "Lines of senders past the most"
                              " that have files of their own.", value=status["overflowed"])
    yield CounterMetricFamily("weblog_syslog_lost", "Lines received that could not be written"
                              " to the spool, or were dropped (UDP) while their file waited for"
                              " the history.", value=status["lost"])
    yield GaugeMetricFamily("weblog_syslog_behind", "Spool files waiting for the history to"
                            " store their .1.", value=status["behind"])


def _histogram(counts: list[int], total_us: int) -> Metric:
    """The response-time histogram of the hits whose log says how long they took."""
    buckets, upto = [], 0
    for bound, count in zip((*map(str, BOUNDS), "+Inf"), counts, strict=True):
        upto += count
        buckets.append((bound, upto))
    return HistogramMetricFamily("weblog_response_time_seconds", "How long the server took to "
                                 "answer the hits, when the log format says it.",
                                 buckets=buckets, sum_value=total_us / 1_000_000)


class MetricsPage(Resource):
    """The metrics of a Records in Prometheus' text format (or OpenMetrics, if asked)."""

    isLeaf = True

    def __init__(self, records: IRecords, hub: IEventHub | None = None) -> None:
        super().__init__()
        self.records = records
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(RecordsCollector(records, hub))

    def render_GET(self, request: Request) -> bytes:
        """Collect and write the metrics, in the format the scraper accepts (the hits are
        counted from the first scrape on: one that got past the credentials, if any)."""
        self.records.traffic.scraped = True
        accept = request.getHeader("accept")
        encoder, content_type = choose_encoder(accept or "")
        request.setHeader("content-type", content_type)
        request.setHeader("cache-control", "no-store")
        return bytes(encoder(self.registry))
