"""Accepting a job: check the spec, honour Idempotency-Key, apply the tenant's concurrent-job
limit, store the job durably, then publish it.

The order matters for "a job accepted with 202 is never lost": the job is committed before
the message is sent, and when the broker cannot take the message the job stays unpublished
in the store, where a worker's sweeper finds and publishes it (service/store/jobs.py sweep).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gradprobe.spec import JobSpec
from service.api.planning import plan_posted
from service.api.problems import ApiError, bad_input
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import (
    NewJob,
    active_jobs,
    add_job,
    get_job,
    idempotent_job,
    mark_unpublished,
)
from service.store.models import Job
from service.tasks.app import publish

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_ACTIVE_S = 10  # Retry-After when the tenant has too many active jobs


@dataclass(frozen=True)
class Submitted:
    job: Job | NewJob  # NewJob: stored by a batch's Core INSERT (submit_batch.py)
    replayed: bool  # an earlier job returned again for the same Idempotency-Key and body


def body_digest(raw: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a body: key order and spacing do not matter."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def pick_queue(spec: JobSpec, settings: Settings) -> str:
    return {"cuda": "gpu", "cpu": "cpu"}.get(spec.train.device, settings.default_queue)


def replay_job(session: Session, tenant: str, key: str, digest: str) -> Job | None:
    """The job an earlier request made with this Idempotency-Key and body; a 422 when the
    key came with another body."""
    known = idempotent_job(session, tenant, key)
    if known is None:
        return None
    job_id, seen = known
    if seen != digest:
        raise ApiError(
            422,
            "idempotency-key-reused",
            "this Idempotency-Key was used with a different body",
            errors=[
                bad_input("header.idempotency-key", "already used with another body", "reused")
            ],
        )
    return get_job(session, job_id, tenant)


def too_many_active(active: int, limit: int, adding: int = 1) -> ApiError:
    more = "" if adding == 1 else f"; {adding} more do not fit"
    return ApiError(
        429,
        "too-many-active-jobs",
        f"{active} jobs are queued or running, the limit is {limit}{more}",
        headers={"Retry-After": str(RETRY_ACTIVE_S)},
    )


def check_room(session: Session, tenant: str, limit: int, adding: int = 1) -> None:
    """429 when `adding` more jobs would take the tenant's queued + running past `limit`."""
    active = active_jobs(session, tenant)
    if active + adding > limit:
        raise too_many_active(active, limit, adding)


def new_job(
    session: Session,
    settings: Settings,
    tenant: str,
    spec: JobSpec,
    *,
    idempotency: tuple[str, str] | None = None,
    study: tuple[str, str] | None = None,
) -> Job:
    """A queued job for a checked spec (flushed, not committed)."""
    return add_job(
        session,
        tenant,
        spec.model_dump(mode="json"),
        total_steps=spec.train.steps,
        queue=pick_queue(spec, settings),
        name=spec.name or None,
        idempotency=idempotency,
        study=study,
    )


def add_or_replay(
    session: Session, add: Callable[[], T], replay: Callable[[], T | None]
) -> tuple[T, bool]:
    """`add()` and commit, then (what it added, False). When a concurrent request with the
    same Idempotency-Key committed first (the key's row conflicts), roll back and return
    (`replay()`, its earlier answer, True)."""
    try:
        made = add()
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = replay()
        if earlier is None:
            raise
        return earlier, True
    return made, False


def store_job(
    session: Session, settings: Settings, tenant: str, raw: dict[str, Any], key: str | None
) -> Submitted:
    """Check and commit the job (or find the earlier one for `key`); raises SpecError or
    ApiError. Nothing is stored when the spec is refused."""
    spec = plan_posted(raw, settings.caps()).spec
    digest = body_digest(raw)
    if key is not None and (earlier := replay_job(session, tenant, key, digest)) is not None:
        return Submitted(earlier, True)
    check_room(session, tenant, settings.max_active_jobs)
    idempotency = None if key is None else (key, digest)
    job, replayed = add_or_replay(
        session,
        lambda: new_job(session, settings, tenant, spec, idempotency=idempotency),
        lambda: None if key is None else replay_job(session, tenant, key, digest),
    )
    return Submitted(job, replayed)


def enqueue(session: Session, celery: Celery, job: Job | NewJob) -> bool:
    """Publish a committed job; on a broker error it is marked unpublished for the sweeper
    (it was stored as published, which saves a commit on every POST that succeeds)."""
    try:
        publish(celery, job.id, job.queue)
    except Exception as exc:
        log.warning("job %s not published (%s); the sweeper will publish it", job.id, exc)
        mark_unpublished(session, job.id)
        session.commit()
        return False
    return True


def submit(
    settings: Settings, celery: Celery, tenant: str, raw: dict[str, Any], key: str | None
) -> Submitted:
    """`store_job`, then `enqueue` a new job, in one session: the whole of a POST's blocking
    work, for one trip to the API's thread pool."""
    with session_scope(settings.store_url) as session:
        done = store_job(session, settings, tenant, raw, key)
        if not done.replayed:
            enqueue(session, celery, done.job)
    return done
