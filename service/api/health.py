"""`/healthz` (the process answers), `/readyz` (it can do its job) and `/metrics`."""

from __future__ import annotations

from celery import Celery
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gradprobe.api import Check, Health, Readiness
from service.api.deps import CeleryDep, MetricsDep, SettingsDep
from service.api.problems import ApiError, responses
from service.store.db import ping, session_scope
from service.store.jobs import live_workers

router = APIRouter(tags=["health"])
WORKER_WITHIN_S = 30.0
BROKER_TIMEOUT_S = 2.0


def check_store(url: str) -> Check:
    try:
        ok = ping(url)
    except Exception as exc:  # a bad URL or driver error is "not ready", not a 500
        return Check(ok=False, detail=f"store error: {type(exc).__name__}")
    return Check(ok=ok, detail="answers" if ok else "does not answer")


def check_broker(celery: Celery) -> Check:
    try:
        with celery.connection_for_write(connect_timeout=BROKER_TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_S)
    except Exception as exc:
        return Check(ok=False, detail=f"unreachable: {type(exc).__name__}")
    return Check(ok=True, detail="reachable")


def check_workers(url: str) -> Check:
    try:
        with session_scope(url) as session:
            n = live_workers(session, WORKER_WITHIN_S)
    except Exception as exc:
        return Check(ok=False, detail=f"store error: {type(exc).__name__}")
    return Check(ok=n > 0, detail=f"{n} seen in the last {WORKER_WITHIN_S:.0f} s")


@router.get("/healthz", response_model=Health, summary="The process answers")
def healthz() -> Health:
    return Health()


@router.get(
    "/readyz", response_model=Readiness, responses=responses(503), summary="Ready to take jobs"
)
def readyz(settings: SettingsDep, celery: CeleryDep) -> Readiness:
    """Ready when the store answers, the broker is reachable and a worker was seen lately."""
    checks = {
        "store": check_store(settings.store_url),
        "broker": check_broker(celery),
        "workers": check_workers(settings.store_url),
    }
    failing = [name for name, c in checks.items() if not c.ok]
    if failing:
        raise ApiError(
            503,
            "not-ready",
            "failing: " + ", ".join(f"{n} ({checks[n].detail})" for n in failing),
            checks={n: c.model_dump() for n, c in checks.items()},
        )
    return Readiness(status="ready", checks=checks)


@router.get("/metrics", include_in_schema=False)
def metrics(m: MetricsDep) -> Response:
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
