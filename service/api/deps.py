"""The cross-cutting needs of the routes, as Annotated dependencies: settings, a store
session, the Celery app, the calling tenant (authenticated and rate-limited), a job of that
tenant (or 404) and a JSON object body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from celery import Celery
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.api.auth import KeyCache
from service.api.limits import TokenBuckets
from service.api.metrics import Metrics
from service.api.problems import ApiError, bad_input
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import get_job
from service.store.models import Job

bearer = HTTPBearer(auto_error=False, description="An API key: `gradprobe-server keys create`")


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


def app_metrics(request: Request) -> Metrics:
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


def current_tenant(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The tenant of the request's API key, once its rate allows the request."""
    if credentials is None:
        raise _unauthorized("send an API key: Authorization: Bearer <key>")
    keys: KeyCache = request.app.state.keys
    tenant = keys.tenant(credentials.credentials)
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
