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
from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gradprobe.spec import JobSpec
from service.api.planning import plan_posted
from service.api.problems import ApiError, bad_input
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import active_jobs, add_job, get_job, idempotent_job, mark_published
from service.store.models import Job
from service.tasks.app import publish

log = logging.getLogger(__name__)

RETRY_ACTIVE_S = 10  # Retry-After when the tenant has too many active jobs


@dataclass(frozen=True)
class Submitted:
    job: Job
    replayed: bool  # an earlier job returned again for the same Idempotency-Key and body


def body_digest(raw: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a body: key order and spacing do not matter."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def pick_queue(spec: JobSpec, settings: Settings) -> str:
    return {"cuda": "gpu", "cpu": "cpu"}.get(spec.train.device, settings.default_queue)


def _replay(session: Session, tenant: str, key: str, digest: str) -> Job | None:
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


def _check_room(session: Session, tenant: str, limit: int) -> None:
    active = active_jobs(session, tenant)
    if active >= limit:
        raise ApiError(
            429,
            "too-many-active-jobs",
            f"{active} jobs are queued or running, the limit is {limit}",
            headers={"Retry-After": str(RETRY_ACTIVE_S)},
        )


def store_job(
    session: Session, settings: Settings, tenant: str, raw: dict[str, Any], key: str | None
) -> Submitted:
    """Check and commit the job (or find the earlier one for `key`); raises SpecError or
    ApiError. Nothing is stored when the spec is refused."""
    spec = plan_posted(raw, settings.caps()).spec
    digest = body_digest(raw)
    if key is not None and (earlier := _replay(session, tenant, key, digest)) is not None:
        return Submitted(earlier, True)
    _check_room(session, tenant, settings.max_active_jobs)
    try:
        job = add_job(
            session,
            tenant,
            spec.model_dump(mode="json"),
            total_steps=spec.train.steps,
            queue=pick_queue(spec, settings),
            name=spec.name or None,
            idempotency=None if key is None else (key, digest),
        )
        session.commit()
    except IntegrityError:  # a concurrent request with the same key committed first
        session.rollback()
        earlier = _replay(session, tenant, key, digest) if key is not None else None
        if earlier is None:
            raise
        return Submitted(earlier, True)
    return Submitted(job, False)


def enqueue(session: Session, celery: Celery, job: Job) -> bool:
    """Publish a committed job; on a broker error it stays unpublished for the sweeper."""
    try:
        publish(celery, job.id, job.queue)
    except Exception as exc:
        log.warning("job %s not published (%s); the sweeper will publish it", job.id, exc)
        return False
    mark_published(session, job.id)
    session.commit()
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
