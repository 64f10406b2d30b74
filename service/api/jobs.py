"""Routes of /v1/jobs: submit, list, show, cancel, delete."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from celery import Celery
from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response
from fastapi.responses import Response as PlainResponse
from sqlalchemy import Row

from gradprobe.api import JobList, JobStatus, JobView
from service.api.deps import (
    IDEMPOTENCY_KEY_DOC,
    IDEMPOTENCY_KEY_PARAMETER,
    CeleryDep,
    JobDep,
    SessionDep,
    SettingsDep,
    TenantDep,
    idempotency_key,
    in_store_thread,
    json_object,
)
from service.api.job_views import EncodedView, JobViews
from service.api.metrics import Metrics
from service.api.openapi import SPEC_BODY
from service.api.pagination import decode_cursor, page
from service.api.problems import ApiError, bad_input, responses
from service.api.submit_batch import SubmitBatcher
from service.api.views import job_path, job_view
from service.store.jobs import FINAL, delete_job, request_cancel
from service.store.reads import job_row, job_rows

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
AUTH = (401, 429)
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted: the job is stored and queued.",
        "headers": {
            "Location": {"description": "The job's URL", "schema": {"type": "string"}},
            "Idempotent-Replayed": {
                "description": "`true` when an earlier job is returned for an Idempotency-Key",
                "schema": {"type": "string"},
            },
        },
    }
}
IdempotencyKey = Annotated[
    str | None,
    Header(min_length=1, max_length=255, description=IDEMPOTENCY_KEY_DOC),
]


def revoke(celery: Celery, job_id: str) -> None:
    """Best effort: the store's state is what counts, the workers also check it."""
    try:
        celery.control.revoke(job_id)
    except Exception as exc:
        log.warning("job %s: revoke not sent (%s)", job_id, exc)


@router.post(
    "",
    status_code=202,
    response_model=JobView,
    responses={**ACCEPTED, **responses(*AUTH, 413, 422)},
    openapi_extra={**SPEC_BODY, "parameters": [IDEMPOTENCY_KEY_PARAMETER]},
    summary="Submit a job",
)
async def create_job(request: Request, tenant: TenantDep) -> Response:
    # The busiest write route takes only the tenant as a dependency: the body, the
    # Idempotency-Key and the metrics are read by plain calls, each a dependency fewer for
    # FastAPI to solve per request (~35 µs of a POST's CPU together).
    body = await json_object(request)
    key = idempotency_key(request)
    submits: SubmitBatcher = request.app.state.submits
    done = await submits.submit(tenant, body, key)
    headers = {"Location": job_path(done.job.id)}
    if done.replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics: Metrics = request.app.state.metrics
        metrics.submitted.labels(done.job.queue).inc()
    # Encoded here, once: the view is built from the stored job, nothing to validate again.
    content = job_view(done.job).model_dump_json()
    return Response(content, status_code=202, media_type="application/json", headers=headers)


@router.get("", response_model=JobList, responses=responses(*AUTH, 422), summary="List jobs")
def list_jobs(
    tenant: TenantDep,
    session: SessionDep,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JobList:
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except ValueError as exc:
        raise ApiError(
            422, "invalid-request", "bad cursor", errors=[bad_input("query.cursor", str(exc))]
        ) from None
    jobs, next_cursor = page(session, tenant, limit, status, after)
    return JobList(items=[job_view(j) for j in jobs], next_cursor=next_cursor)


def _encoded(job: Row[Any]) -> EncodedView:
    return EncodedView.of(job.tenant_id, job_view(job).model_dump_json().encode())


def _read_view(views: JobViews, store_url: str, job_id: str) -> EncodedView | None:
    """The job's view from the store, encoded (and kept, unless it raced a change)."""
    ticket = views.ticket()
    job = job_row(store_url, job_id)
    if job is None:
        return None
    view = _encoded(job)
    views.keep(job_id, view, ticket)
    return view


def refresh_views(views: JobViews, store_url: str, job_ids: list[str]) -> None:
    """Read again, in one query, the changed jobs whose views a notice dropped (called by
    the change listener, service/store/changes.py, once per window of notices)."""
    wanted = views.dropped(job_ids)
    if wanted:
        ticket = views.ticket()
        for job in job_rows(store_url, wanted):
            views.keep(job.id, _encoded(job), ticket)
            views.refreshed += 1


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.get(
    "/{job_id}",
    response_model=JobView,
    responses={
        304: {"description": "Not Modified: the job is as the `If-None-Match` ETag says"},
        **responses(*AUTH, 404),
    },
    summary="Show a job",
)
async def show_job(
    request: Request,
    job_id: str,
    tenant: TenantDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> Response:
    """The route clients poll: answered from the process's job views when it can
    (service/api/job_views.py), with an ETag so that a poll of an unchanged job is a 304."""
    views: JobViews = request.app.state.job_views
    view = views.get(job_id)
    if view is None:
        view = await in_store_thread(request, _read_view, views, settings.store_url, job_id)
    if view is None or view.tenant != tenant:
        raise ApiError(404, "job-not-found", f"no job {job_id}")
    headers = {"ETag": view.etag}
    if if_none_match is not None and _matches(if_none_match, view.etag):
        return Response(status_code=304, headers=headers)
    return Response(view.body, media_type="application/json", headers=headers)


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=JobView,
    responses=responses(*AUTH, 404, 409),
    summary="Cancel a job",
)
def cancel_job(
    request: Request,
    job: JobDep,
    session: SessionDep,
    celery: CeleryDep,
    background: BackgroundTasks,
) -> JobView:
    if job.status in FINAL:
        raise ApiError(409, "job-final", f"job {job.id} is already {job.status}")
    request_cancel(session, job)
    session.commit()
    request.app.state.job_views.changed(job.id)  # before the notice: read your own writes
    background.add_task(revoke, celery, job.id)
    return job_view(job)


@router.delete(
    "/{job_id}",
    status_code=204,
    response_class=PlainResponse,
    responses=responses(*AUTH, 404),
    summary="Delete a job and its result",
)
def remove_job(
    request: Request,
    job: JobDep,
    session: SessionDep,
    celery: CeleryDep,
    background: BackgroundTasks,
) -> PlainResponse:
    delete_job(session, job.id)
    session.commit()
    request.app.state.job_views.changed(job.id)  # before the notice: read your own writes
    background.add_task(revoke, celery, job.id)
    return PlainResponse(status_code=204)
