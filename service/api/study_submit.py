"""Accepting a study: expand and check every cell (nothing is stored if one is bad), apply the
tenant's active-job limit to all the cells, store the study and its jobs in one transaction,
then publish each job as `submit.enqueue` does (a job it cannot publish waits for the
sweeper). An Idempotency-Key is recorded on the first cell's job, under a digest of the study
body: the same key and body give the same study again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from gradprobe.api import ProblemError
from service.api.problems import bad_input
from service.api.study_cells import expand, invalid, parse_study, plan_cells
from service.api.submit import (
    add_or_replay,
    body_digest,
    check_room,
    enqueue,
    new_job,
    replay_job,
)
from service.settings import Settings
from service.store.models import Job, Study
from service.store.studies import add_study, get_study, study_jobs


@dataclass(frozen=True)
class SubmittedStudy:
    study: Study
    jobs: list[Job]
    replayed: bool


def _replay(session: Session, tenant: str, key: str, digest: str) -> SubmittedStudy | None:
    job = replay_job(session, tenant, key, digest)
    study = None if job is None or job.study_id is None else get_study(session, job.study_id)
    if study is None:
        return None
    return SubmittedStudy(study, study_jobs(session, [study.id])[study.id], True)


def _never_fits(cells: int, limit: int) -> ProblemError:
    message = f"{cells} cells, but at most {limit} jobs may be active (GRADPROBE_MAX_ACTIVE_JOBS)"
    return bad_input("$", message, "cap_exceeded")


def store_study(
    session: Session, settings: Settings, tenant: str, raw: dict[str, Any], key: str | None
) -> SubmittedStudy:
    """Check and commit the study and its jobs (or find the earlier one for `key`); raises
    ApiError. Nothing is stored when a cell is refused."""
    body = parse_study(raw)
    cells = expand(body, settings.max_study_cells)
    specs = plan_cells(cells, settings.caps())
    digest = body_digest({"study": raw})  # never equal to a job body's digest
    if key is not None and (earlier := _replay(session, tenant, key, digest)) is not None:
        return earlier
    if len(cells) > settings.max_active_jobs:
        raise invalid([_never_fits(len(cells), settings.max_active_jobs)])
    check_room(session, tenant, settings.max_active_jobs, len(cells))

    def add() -> SubmittedStudy:
        study = add_study(session, tenant, body.base, [], body.name)
        jobs = [
            new_job(
                session,
                settings,
                tenant,
                spec,
                idempotency=(key, digest) if key is not None and i == 0 else None,
                study=(study.id, cell.name),
            )
            for i, (cell, spec) in enumerate(zip(cells, specs, strict=True))
        ]
        study.cells = [
            {**cell.record, "job_id": job.id} for cell, job in zip(cells, jobs, strict=True)
        ]
        return SubmittedStudy(study, jobs, False)

    done, _ = add_or_replay(
        session, add, lambda: None if key is None else _replay(session, tenant, key, digest)
    )
    return done


def submit_study(
    session: Session,
    settings: Settings,
    celery: Celery,
    tenant: str,
    raw: dict[str, Any],
    key: str | None,
) -> SubmittedStudy:
    """`store_study`, then publish each new job."""
    done = store_study(session, settings, tenant, raw, key)
    if not done.replayed:
        for job in done.jobs:
            enqueue(session, celery, job)
    return done
