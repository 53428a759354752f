"""Prometheus metrics of one daemon (``/metrics``), in a registry of its own.

Each daemon (tests start several in one process) has its own ``CollectorRegistry``.
Counters and the verification histogram are fed by intake as packets arrive
(:class:`AxisMetrics` is intake's observer); gauges about queues, deliveries, trust
material and the national link are read from the store when ``/metrics`` is scraped
(:meth:`AxisMetrics.refresh`), so every node reports the cluster's queues.

| metric | type | labels |
|---|---|---|
| `axis_packets_received_total` | counter | kind, verdict, channel |
| `axis_packets_duplicate_total` | counter | kind, channel |
| `axis_packets_refused_total` | counter | reason, verdict, channel |
| `axis_verify_seconds` | histogram | verdict |
| `axis_deliveries` | gauge | destination, state (pending, in_flight, dead) |
| `axis_deliveries_by_state` | gauge | state (pending, fetched, failed, dead) |
| `axis_queue_depth` | gauge | destination |
| `axis_queue_oldest_age_seconds` | gauge | destination |
| `axis_queue_delivered_last_hour` | gauge | destination |
| `axis_destination_paused` | gauge | destination (1 = circuit open) |
| `axis_counted_total` | gauge | direction (sent, received, acknowledged, refused; all time) |
| `axis_national_poll_lag_seconds` | gauge | — (since the last successful poll) |
| `axis_national_backlog` | gauge | — |
| `axis_crl_next_update_seconds` | gauge | issuer (negative: stale) |
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from axis.observe import IntakeObserver
from axis.store.dashboard import delivery_state_counts, totals

if TYPE_CHECKING:
    from axis.app import Services
    from axis.sources import Sources

__all__ = ["CONTENT_TYPE_LATEST", "AxisMetrics"]

log = logging.getLogger("axis.metrics")

VERIFY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AxisMetrics(IntakeObserver):
    """The metrics of one daemon."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.received_total = Counter(
            "axis_packets_received",
            "Packets accepted (committed), by kind, signature verdict and channel.",
            ["kind", "verdict", "channel"],
            registry=r,
        )
        self.duplicates = Counter(
            "axis_packets_duplicate",
            "Packets sent again and answered with the original answer.",
            ["kind", "channel"],
            registry=r,
        )
        self.refused_total = Counter(
            "axis_packets_refused",
            "Packets refused, by reason (error code), signature verdict and channel.",
            ["reason", "verdict", "channel"],
            registry=r,
        )
        self.verify_seconds = Histogram(
            "axis_verify_seconds",
            "Time to verify a packet's signature (parse, digest, path), by verdict.",
            ["verdict"],
            buckets=VERIFY_BUCKETS,
            registry=r,
        )
        self.deliveries = Gauge(
            "axis_deliveries",
            "Deliveries of each destination by state (pending, in_flight, dead).",
            ["destination", "state"],
            registry=r,
        )
        self.states = Gauge(
            "axis_deliveries_by_state",
            "Deliveries in each open or failed state, all destinations.",
            ["state"],
            registry=r,
        )
        self.depth = Gauge(
            "axis_queue_depth", "Deliveries waiting per destination.", ["destination"], registry=r
        )
        self.oldest = Gauge(
            "axis_queue_oldest_age_seconds",
            "Age of the oldest waiting delivery per destination.",
            ["destination"],
            registry=r,
        )
        self.rate = Gauge(
            "axis_queue_delivered_last_hour",
            "Deliveries taken by each destination in the last hour.",
            ["destination"],
            registry=r,
        )
        self.paused = Gauge(
            "axis_destination_paused",
            "1 while a destination's circuit breaker holds its deliveries.",
            ["destination"],
            registry=r,
        )
        self.counted = Gauge(
            "axis_counted_total",
            "All-time exchange counters by direction (from the store, all nodes).",
            ["direction"],
            registry=r,
        )
        self.poll_lag = Gauge(
            "axis_national_poll_lag_seconds",
            "Seconds since the last successful poll of the national axis.",
            registry=r,
        )
        self.national_backlog = Gauge(
            "axis_national_backlog",
            "Packets the national axis holds for us, as last seen.",
            registry=r,
        )
        self.crl_next_update = Gauge(
            "axis_crl_next_update_seconds",
            "Seconds until each CRL's nextUpdate (negative: the CRL is stale).",
            ["issuer"],
            registry=r,
        )

    # --- the intake observer --------------------------------------------------------

    def verified(self, seconds: float, verdict: str) -> None:
        self.verify_seconds.labels(verdict).observe(seconds)

    def accepted(self, kind: str, verdict: str, channel: str, created: bool) -> None:
        if created:
            self.received_total.labels(kind, verdict, channel).inc()
        else:
            self.duplicates.labels(kind, channel).inc()

    def refused(self, code: str, verdict: str | None, channel: str) -> None:
        self.refused_total.labels(code, verdict or "none", channel).inc()

    # --- scrape ---------------------------------------------------------------------

    async def refresh(self, services: Services, sources: Sources, now: datetime) -> None:
        """Read the store's figures into the gauges (at each scrape)."""
        store = services.store
        queues = await sources.queue_stats(now)
        for gauge in (self.deliveries, self.depth, self.oldest, self.rate, self.paused):
            gauge.clear()
        for q in queues:
            self.deliveries.labels(q.destination, "pending").set(q.pending)
            self.deliveries.labels(q.destination, "in_flight").set(q.in_flight)
            self.deliveries.labels(q.destination, "dead").set(q.dead)
            self.depth.labels(q.destination).set(q.pending)
            self.oldest.labels(q.destination).set(q.oldest_pending_age or 0.0)
            self.rate.labels(q.destination).set(q.delivered_last_hour)
            self.paused.labels(q.destination).set(1 if q.paused else 0)
        for state, n in (await delivery_state_counts(store)).items():
            self.states.labels(state).set(n)
        self.counted.clear()
        for direction, n in (await totals(store)).items():
            self.counted.labels(direction).set(n)
        health = await sources.national_health()
        if health is not None and health.last_success is not None:
            self.poll_lag.set(max(0.0, (now - health.last_success).total_seconds()))
        if health is not None and health.backlog is not None:
            self.national_backlog.set(health.backlog)
        self.crl_next_update.clear()
        for crl in sources.crls():
            if crl.next_update is not None:
                self.crl_next_update.labels(crl.issuer).set((crl.next_update - now).total_seconds())

    def render(self) -> bytes:
        return generate_latest(self.registry)
