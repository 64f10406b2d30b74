"""Prometheus metrics: requests by route template and status, their latency, jobs submitted,
and jobs by status (counted in the store when scraped). One registry per app."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.job_views import JobViews
from service.store.db import session_scope
from service.store.models import Job

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
UNMATCHED = "<unmatched>"  # unknown paths share one label: no unbounded label values


class JobCounts(Collector):
    """`gradprobe_jobs{status}`: the store's job counts, queried at scrape time."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("gradprobe_jobs", "Jobs in the store by status", labels=["status"])

    def describe(self) -> Iterable[Metric]:
        return [self._family()]  # without this the registry would query the store to describe

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        try:
            with session_scope(self.store_url) as session:
                rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
                counts = {status: int(n) for status, n in rows}
        except Exception as exc:  # a scrape must not fail because the store is down
            log.warning("job counts unavailable: %s", type(exc).__name__)
            return [family]
        for status in STATUSES:
            family.add_metric([status], counts.get(status, 0))
        return [family]


class JobViewReads(Collector):
    """`gradprobe_job_view_reads_total{source}`: `GET /v1/jobs/{id}` answered from the
    process's kept views (`memory`) or read from the store (`store`), and views read again
    after a change by the notice listener (`refresh`)."""

    def __init__(self, views: JobViews) -> None:
        self.views = views

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "gradprobe_job_view_reads", "Job views by where they came from", labels=["source"]
        )
        family.add_metric(["memory"], self.views.hits)
        family.add_metric(["store"], self.views.misses)
        family.add_metric(["refresh"], self.views.refreshed)
        listening = GaugeMetricFamily(
            "gradprobe_job_change_notices_heard",
            "1 while this process hears job change notices (and keeps job views), else 0",
        )
        listening.add_metric([], float(self.views.listening))
        kept = GaugeMetricFamily("gradprobe_job_views_kept", "Job views kept in this process")
        kept.add_metric([], float(len(self.views)))
        return [family, listening, kept]


class Metrics:
    def __init__(self, store_url: str, views: JobViews) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gradprobe_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gradprobe_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.submitted = Counter(
            "gradprobe_jobs_submitted",
            "Jobs accepted by POST /v1/jobs",
            ["queue"],
            registry=self.registry,
        )
        self.registry.register(JobCounts(store_url))
        self.registry.register(JobViewReads(views))


class MetricsMiddleware:
    """Counts every HTTP request under its route template (`/v1/jobs/{job_id}`)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled children, looked up once each: `labels()` takes a lock and checks
        # its arguments on every call. Bounded: route templates x methods x statuses.
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self._observe(scope["method"], route, status, time.perf_counter() - start)

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self.metrics.requests.labels(method, route, str(status))
            self._counted[(method, route, status)] = counted
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[(method, route)] = self.metrics.latency.labels(method, route)
        counted.inc()
        timed.observe(seconds)
