"""Routes of /v1/studies: submit a study (one job per cell), list, show, cancel, compare."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from gradprobe.api import StudyList, StudyView
from service.api.deps import (
    BodyDep,
    CeleryDep,
    MetricsDep,
    SessionDep,
    SettingsDep,
    TenantDep,
    in_store_thread,
)
from service.api.jobs import ACCEPTED, AUTH, IdempotencyKey, revoke
from service.api.pagination import decode_cursor, encode_cursor
from service.api.problems import ApiError, bad_input, responses
from service.api.study_submit import submit_study
from service.api.study_views import study_brief, study_path, study_view
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import ACTIVE, lock_jobs, request_cancel
from service.store.models import Study
from service.store.studies import get_study, page_studies, study_jobs

router = APIRouter(prefix="/v1/studies", tags=["studies"])
STUDY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A base spec and exactly one of `grid` or `variants` (docs/api.md).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StudyCreate"}}},
    }
}
STUDY_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted: the study and a job per cell are stored and queued.",
        "headers": {
            **ACCEPTED[202]["headers"],
            "Location": {"description": "The study's URL", "schema": {"type": "string"}},
        },
    }
}


def owned_study(study_id: str, tenant: TenantDep, session: SessionDep) -> Study:
    """The tenant's study; any other, whoever owns it, does not exist (404)."""
    study = get_study(session, study_id, tenant)
    if study is None:
        raise ApiError(404, "study-not-found", f"no study {study_id}")
    return study


StudyDep = Annotated[Study, Depends(owned_study)]


def _submit(
    settings: Settings, celery: Any, tenant: str, raw: dict[str, Any], key: str | None
) -> tuple[StudyView, bool, list[str]]:
    with session_scope(settings.store_url) as session:
        done = submit_study(session, settings, celery, tenant, raw, key)
        view = study_view(session, done.study, done.jobs)
        return view, done.replayed, [job.queue for job in done.jobs]


@router.post(
    "",
    status_code=202,
    response_model=StudyView,
    responses={**STUDY_ACCEPTED, **responses(*AUTH, 413, 422)},
    openapi_extra=STUDY_BODY,
    summary="Submit a study",
)
async def create_study(
    request: Request,
    tenant: TenantDep,
    body: BodyDep,
    settings: SettingsDep,
    celery: CeleryDep,
    metrics: MetricsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> StudyView:
    """One job per cell: the grid's combinations or the named variants, every cell checked
    like a job (a bad one is a 422 naming it, and nothing is stored). The tenant's
    active-job limit counts every cell."""
    view, replayed, queues = await in_store_thread(
        request, _submit, settings, celery, tenant, body, idempotency_key
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        for queue in queues:
            metrics.submitted.labels(queue).inc()
    response.headers["Location"] = study_path(view.id)
    return view


@router.get("", response_model=StudyList, responses=responses(*AUTH, 422), summary="List studies")
def list_studies(
    tenant: TenantDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> StudyList:
    try:
        after = decode_cursor(cursor) if cursor is not None else None
    except ValueError as exc:
        raise ApiError(
            422, "invalid-request", "bad cursor", errors=[bad_input("query.cursor", str(exc))]
        ) from None
    studies = page_studies(session, tenant, limit, after)
    more, studies = len(studies) > limit, studies[:limit]
    jobs = study_jobs(session, [s.id for s in studies])
    return StudyList(
        items=[study_brief(s, jobs[s.id]) for s in studies],
        next_cursor=encode_cursor(studies[-1]) if more else None,
    )


def _view(session: Session, study: Study) -> StudyView:
    return study_view(session, study, study_jobs(session, [study.id])[study.id])


@router.get(
    "/{study_id}",
    response_model=StudyView,
    responses=responses(*AUTH, 404),
    summary="Show a study and its comparison table",
)
def show_study(study: StudyDep, session: SessionDep) -> StudyView:
    return _view(session, study)


@router.post(
    "/{study_id}/cancel",
    status_code=202,
    response_model=StudyView,
    responses=responses(*AUTH, 404, 409),
    summary="Cancel every active cell of a study",
)
def cancel_study(
    study: StudyDep, session: SessionDep, celery: CeleryDep, background: BackgroundTasks
) -> StudyView:
    active = [j for j in study_jobs(session, [study.id])[study.id] if j.status in ACTIVE]
    if not active:
        raise ApiError(409, "study-final", f"every cell of study {study.id} has ended")
    lock_jobs(session, [job.id for job in active])
    for job in active:
        request_cancel(session, job)
        background.add_task(revoke, celery, job.id)
    session.commit()
    return _view(session, study)
