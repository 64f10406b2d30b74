"""The cross-cutting needs of the routes, as Annotated dependencies: settings, a store
session, the Celery app, the calling tenant (authenticated and rate-limited), a job of that
tenant (or 404) and a JSON object body.

FastAPI runs every plain `def` dependency in its thread pool, one hop each, and under load
those hops cost more than the work (bench/api_load.py, docs/benchmarks.md). So the
dependencies that never block are `async def`, and the hot routes do all their store work
in one hop through `in_store_thread`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from celery import Celery
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from service.api.auth import KeyCache
from service.api.limits import TokenBuckets
from service.api.metrics import Metrics
from service.api.problems import ApiError, bad_input
from service.settings import Settings
from service.store.db import engine_for, session_scope
from service.store.jobs import get_job
from service.store.models import Job

bearer = HTTPBearer(auto_error=False, description="An API key: `gradprobe-server keys create`")
T = TypeVar("T")


def store_limiter(store_url: str) -> CapacityLimiter:
    """How many store calls may run at once: as many as the engine's pool keeps connections.
    More would open and close overflow connections at every burst, and each extra runnable
    thread makes the others wait longer for the GIL."""
    size = getattr(engine_for(store_url).pool, "size", None)
    return CapacityLimiter(size() if callable(size) else 5)


async def in_store_thread(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`, which blocks on the store, in the thread pool under the store's limit."""
    limiter: CapacityLimiter = request.app.state.store_calls
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def app_celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


async def app_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(app_settings)]
CeleryDep = Annotated[Celery, Depends(app_celery)]
MetricsDep = Annotated[Metrics, Depends(app_metrics)]


def store_session(settings: SettingsDep) -> Iterator[Session]:
    """A session that commits at the end of the request; routes that must be durable before
    they answer (or publish) commit themselves."""
    with session_scope(settings.store_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(store_session)]


def _unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="gradprobe"' + (f', error="{error}"' if error else "")
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


async def current_tenant(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The tenant of the request's API key, once its rate allows the request. A key seen
    lately is answered from memory; only a lookup in the store goes to the thread pool."""
    if credentials is None:
        raise _unauthorized("send an API key: Authorization: Bearer <key>")
    keys: KeyCache = request.app.state.keys
    secret = credentials.credentials
    tenant = keys.remembered(secret)
    if tenant is None:
        tenant = await keys.shared(secret, lambda: in_store_thread(request, keys.tenant, secret))
    if tenant is None:
        raise _unauthorized("the API key is not valid or was revoked", "invalid_token")
    rates: TokenBuckets = request.app.state.rates
    wait = rates.take(tenant)
    if wait:
        raise ApiError(
            429,
            "rate-limited",
            "too many requests for this key's tenant; slow down",
            headers={"Retry-After": str(wait)},
        )
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


def owned_job(job_id: str, tenant: TenantDep, session: SessionDep) -> Job:
    """The tenant's job; any other job, whoever owns it, does not exist (404)."""
    job = get_job(session, job_id, tenant)
    if job is None:
        raise ApiError(404, "job-not-found", f"no job {job_id}")
    return job


JobDep = Annotated[Job, Depends(owned_job)]


def _read_job(store_url: str, job_id: str, tenant: str) -> Job | None:
    with session_scope(store_url) as session:
        return get_job(session, job_id, tenant)


async def read_job(request: Request, job_id: str, tenant: TenantDep, settings: SettingsDep) -> Job:
    """The tenant's job for a route that only shows it, or 404 as `owned_job`: read, and its
    session closed, in one hop to the thread pool (it comes back detached, columns loaded)."""
    job = await in_store_thread(request, _read_job, settings.store_url, job_id, tenant)
    if job is None:
        raise ApiError(404, "job-not-found", f"no job {job_id}")
    return job


ReadJobDep = Annotated[Job, Depends(read_job)]


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; anything else (malformed, not UTF-8, too deep, an array)
    is a 422 naming "$". Read here rather than by FastAPI so that the spec's own errors keep
    their clean JSON paths."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ApiError(
            422,
            "invalid-request",
            "the body is not valid JSON",
            errors=[bad_input("$", f"not valid JSON: {reason}", "json_invalid")],
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "invalid-request",
            "the body must be a JSON object",
            errors=[bad_input("$", f"expected an object, got {type(body).__name__}", "dict_type")],
        )
    return body


BodyDep = Annotated[dict[str, Any], Depends(json_object)]


IDEMPOTENCY_KEY_DOC = "Same key and same body: the same job again (Idempotent-Replayed: true)."
_KEY = TypeAdapter(Annotated[str, StringConstraints(min_length=1, max_length=255)])
# The header as a declared `Header(min_length=1, max_length=255)` would document it.
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "idempotency-key",
    "in": "header",
    "required": False,
    "description": IDEMPOTENCY_KEY_DOC,
    "schema": {
        "anyOf": [{"type": "string", "minLength": 1, "maxLength": 255}, {"type": "null"}],
        "description": IDEMPOTENCY_KEY_DOC,
        "title": "Idempotency-Key",
    },
}


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header, checked as a declared `Header` parameter would be (the
    same 422), for the one route where a dependency's per-request cost shows: POST /v1/jobs
    (FastAPI solves each parameter and dependency on every request)."""
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    try:
        return _KEY.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("header", "idempotency-key")} for e in exc.errors()]
        ) from None
