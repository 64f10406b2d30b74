"""The job state machine, as conditional updates on the store.

queued -> running (a worker claims it, taking a lease) -> succeeded | failed | cancelled.
A running job whose lease expired goes back to queued (or fails after `max_attempts`);
every write by a worker names its lease token, so a stale worker can change nothing.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from service.store.models import (
    Attempt,
    IdempotencyKey,
    Job,
    ResultDoc,
    Tenant,
    WorkerBeat,
    utcnow,
)

JOBS = cast(Table, Job.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)
ACTIVE = ("queued", "running")
FINAL = ("succeeded", "failed", "cancelled")


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"


def get_job(session: Session, job_id: str, tenant_id: str | None = None) -> Job | None:
    job = session.get(Job, job_id)
    if job is None or (tenant_id is not None and job.tenant_id != tenant_id):
        return None
    return job


def active_jobs(session: Session, tenant_id: str) -> int:
    return active_counts(session, {tenant_id})[tenant_id]


def active_counts(session: Session, tenant_ids: set[str]) -> dict[str, int]:
    """Each tenant's queued + running jobs, for a submit about to add some.

    The count is the tenant row's `active_jobs`, which triggers keep (migration 0006). The
    rows stay locked (PostgreSQL) until the transaction ends, so that two submits of one
    tenant in flight at once cannot both pass its limit: the second reads the count after
    the first committed. SQLite has one writer at a time and the API submits one batch at a
    time there (service/api/submit_batch.py)."""
    rows = session.execute(_LOCK_AND_COUNT, {"tenant_ids": list(tenant_ids)})
    counts = {tenant: 0 for tenant in tenant_ids}
    counts.update({tenant: int(n) for tenant, n in rows})
    return counts


# Built once: a batch of POSTs runs it, and building a statement costs more than running it
# through SQLAlchemy's compiled cache.
_TENANT_IDS: BindParameter[str] = bindparam("tenant_ids", expanding=True)
_LOCK_AND_COUNT = (
    select(Tenant.id, Tenant.active_jobs)
    .where(Tenant.id.in_(_TENANT_IDS))
    .order_by(Tenant.id)
    .with_for_update()
)


def idempotent_job(session: Session, tenant_id: str, key: str) -> tuple[str, str] | None:
    """(job id, body digest) recorded for this tenant's Idempotency-Key, if any."""
    row = session.get(IdempotencyKey, (tenant_id, key))
    return None if row is None else (row.job_id, row.body_digest)


def add_job(
    session: Session,
    tenant_id: str,
    spec: dict[str, Any],
    total_steps: int,
    queue: str,
    name: str | None = None,
    idempotency: tuple[str, str] | None = None,
    study: tuple[str, str] | None = None,
) -> Job:
    """A queued job; with `idempotency` = (key, body digest), recorded; with `study` =
    (study id, variant), a cell of that study.

    `published_at` is set optimistically: the API publishes right after this commits and
    clears it (`mark_unpublished`) if the broker refuses, so that a POST costs one commit. If
    the API dies between the two, the sweep publishes the job after `republish_after_s`."""
    job = Job(
        id=new_job_id(),
        published_at=utcnow(),
        tenant_id=tenant_id,
        spec=spec,
        total_steps=total_steps,
        queue=queue,
        name=name,
        study_id=None if study is None else study[0],
        variant=None if study is None else study[1],
    )
    session.add(job)
    if idempotency is not None:
        key, body = idempotency
        session.flush()
        session.add(IdempotencyKey(tenant_id=tenant_id, key=key, body_digest=body, job_id=job.id))
    session.flush()
    return job


@dataclass(frozen=True)
class NewJob:
    """A queued job for `insert_jobs`: its row of the jobs table, and what a job view reads
    of it (service/api/views.py), so that a POST's answer is made without an ORM object.
    Like `add_job`'s, it is stored as published (`mark_unpublished` if the broker refuses)."""

    id: str
    tenant_id: str
    spec: dict[str, Any]
    total_steps: int
    queue: str
    name: str | None
    created_at: datetime
    # What every new job starts with: as the jobs table's defaults.
    status = "queued"
    started_at = finished_at = loss = summary = error = None
    attempt = step = 0
    cancel_requested = False

    @property
    def updated_at(self) -> datetime:
        return self.created_at

    def row(self) -> dict[str, Any]:
        """The INSERT's values. The JSON columns left out (summary, error, layer_norms) are
        SQL NULL, as the ORM leaves them; given None here they would be JSON `null`."""
        now = self.created_at
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "status": self.status,
            "queue": self.queue,
            "name": self.name,
            "spec": self.spec,
            "created_at": now,
            "updated_at": now,
            "published_at": now,
            "attempt": self.attempt,
            "cancel_requested": self.cancel_requested,
            "step": self.step,
            "total_steps": self.total_steps,
        }


def new_job(
    tenant_id: str, spec: dict[str, Any], total_steps: int, queue: str, name: str | None
) -> NewJob:
    return NewJob(new_job_id(), tenant_id, spec, total_steps, queue, name, utcnow())


def insert_jobs(
    session: Session, jobs: Sequence[NewJob], keys: Sequence[tuple[NewJob, str, str]] = ()
) -> None:
    """The jobs in one Core INSERT (an executemany: no unit of work, no ORM objects), then
    the Idempotency-Keys (job, key, body digest) they were posted with; not committed."""
    if not jobs:
        return
    conn = session.connection()
    conn.execute(_INSERT_JOBS, [job.row() for job in jobs])
    if keys:
        rows = [
            {
                "tenant_id": j.tenant_id,
                "key": k,
                "body_digest": d,
                "job_id": j.id,
                "created_at": j.created_at,
            }
            for j, k, d in keys
        ]
        conn.execute(_INSERT_KEYS, rows)


_INSERT_JOBS, _INSERT_KEYS = insert(JOBS), insert(KEYS)


def mark_unpublished(session: Session, job_id: str) -> None:
    """The broker did not take the job: the next sweep publishes it."""
    session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued").values(published_at=None)
    )


def mark_published(session: Session, job_id: str) -> None:
    session.execute(
        update(Job).where(Job.id == job_id, Job.status == "queued").values(published_at=utcnow())
    )


@dataclass(frozen=True)
class Claim:
    job_id: str
    token: str
    attempt: int
    spec: dict[str, Any]


def claim(session: Session, job_id: str, worker: str, lease_s: float) -> Claim | None:
    """Take a queued job for `worker`; None when it is not queued (a duplicate delivery,
    a cancelled or deleted job): the caller then does nothing."""
    token = uuid.uuid4().hex
    now = utcnow()
    done = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued", Job.cancel_requested.is_(False))
        .values(
            status="running",
            attempt=Job.attempt + 1,
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=lease_s),
            worker=worker,
            started_at=func.coalesce(Job.started_at, now),
            updated_at=now,
            error=None,
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.get(Job, job_id)
    assert job is not None
    session.refresh(job)
    session.add(Attempt(job_id=job_id, number=job.attempt, worker=worker, started_at=now))
    return Claim(job_id, token, job.attempt, dict(job.spec))


def _mine(job_id: str, token: str) -> Any:
    return (Job.id == job_id) & (Job.lease_token == token) & (Job.status == "running")


def renew(session: Session, job_id: str, token: str, lease_s: float) -> bool | None:
    """Extend the lease. Returns whether cancellation was requested, or None when the lease
    is lost (the job was deleted, re-queued or finished elsewhere): stop at once."""
    now = utcnow()
    done = session.execute(
        update(Job)
        .where(_mine(job_id, token))
        .values(lease_expires_at=now + timedelta(seconds=lease_s))
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def progress(
    session: Session,
    job_id: str,
    token: str,
    step: int,
    loss: float | None,
    norms: dict[str, Any] | None = None,
) -> bool:
    """The lease holder's latest step and loss, and the probe's per-layer norms if given."""
    values: dict[str, Any] = {"step": step, "loss": loss, "updated_at": utcnow()}
    if norms is not None:
        values["layer_norms"] = norms
    done = session.execute(update(Job).where(_mine(job_id, token)).values(**values))
    return done.rowcount == 1  # type: ignore[attr-defined]


def finish(
    session: Session,
    job_id: str,
    token: str,
    status: str,
    *,
    document: bytes | None = None,
    summary: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    step: int | None = None,
) -> bool:
    """End a claimed job. Only the lease holder can; returns False (and writes nothing)
    for anyone else, so a job gets exactly one stored result."""
    assert status in FINAL
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "updated_at": now,
        "lease_token": None,
        "lease_expires_at": None,
        "summary": summary,
        "error": error,
    }
    if step is not None:
        values["step"] = step
    done = session.execute(update(Job).where(_mine(job_id, token)).values(**values))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if document is not None:
        packed = gzip.compress(document, compresslevel=6)
        session.add(ResultDoc(job_id=job_id, document_gz=packed, size=len(document)))
    job = session.get(Job, job_id)
    if job is not None:
        session.execute(
            update(Attempt)
            .where(Attempt.job_id == job_id, Attempt.number == job.attempt)
            .values(ended_at=now, outcome=status)
        )
    return True


def request_cancel(session: Session, job: Job) -> None:
    """A queued job is cancelled at once; a running one is flagged for its worker. Decided
    by the store, not by the status read before: a worker may claim the job in between."""
    now = utcnow()
    active = Job.status.in_(ACTIVE)
    flag = update(Job).where(Job.id == job.id, active).values(cancel_requested=True, updated_at=now)
    session.execute(flag)
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == "queued")
        .values(status="cancelled", finished_at=now)
    )
    session.refresh(job)


def lock_jobs(session: Session, job_ids: Sequence[str]) -> None:
    """Lock the jobs' rows (PostgreSQL) before changing their status one by one: a status
    change also locks the tenant's row (its active-job count, migration 0006), and a worker
    ending one of these jobs holds that job's row while it waits for the tenant's. Taking
    every job first, in one order, is what keeps the two from waiting on each other."""
    session.execute(select(Job.id).where(Job.id.in_(job_ids)).order_by(Job.id).with_for_update())


def delete_job(session: Session, job_id: str) -> None:
    for table in (ResultDoc, Attempt, IdempotencyKey):
        session.execute(delete(table).where(table.job_id == job_id))
    session.execute(delete(Job).where(Job.id == job_id))


def result_gz(session: Session, job_id: str) -> bytes | None:
    return session.scalar(select(ResultDoc.document_gz).where(ResultDoc.job_id == job_id))


@dataclass(frozen=True)
class Sweep:
    requeued: list[tuple[str, str]]  # (job id, queue) to publish again
    failed: list[str]


def sweep(session: Session, max_attempts: int, republish_after_s: float) -> Sweep:
    """Recover lost jobs: running with an expired lease (its worker died) go back to queued,
    or fail after `max_attempts`; queued jobs never published, or published so long ago
    that the message is presumed lost, are published again (a duplicate is harmless)."""
    now = utcnow()
    expired = list(
        session.scalars(
            select(Job).where(Job.status == "running", Job.lease_expires_at < now).with_for_update()
        )
    )
    requeued: list[tuple[str, str]] = []
    failed: list[str] = []
    for job in expired:
        session.execute(
            update(Attempt)
            .where(Attempt.job_id == job.id, Attempt.number == job.attempt)
            .values(ended_at=now, outcome="lost")
        )
        if job.attempt >= max_attempts:
            job.status, job.finished_at = "failed", now
            job.error = {
                "type": "worker_lost",
                "message": f"the worker running this job was lost {job.attempt} times",
            }
            failed.append(job.id)
        elif job.cancel_requested:
            job.status, job.finished_at = "cancelled", now
        else:
            job.status = "queued"
            requeued.append((job.id, job.queue))
        job.lease_token = job.lease_expires_at = None
        job.published_at, job.updated_at = None, now
    stale = now - timedelta(seconds=republish_after_s)
    unpublished = now - timedelta(seconds=5)
    lost = session.execute(
        select(Job.id, Job.queue).where(
            Job.status == "queued",
            ((Job.published_at.is_(None)) & (Job.created_at < unpublished))
            | (Job.published_at < stale),
        )
    )
    requeued += [(row.id, row.queue) for row in lost if (row.id, row.queue) not in requeued]
    return Sweep(requeued, failed)


def beat(session: Session, name: str, queues: str) -> None:
    row = session.get(WorkerBeat, name)
    if row is None:
        session.add(WorkerBeat(name=name, queues=queues))
    else:
        row.seen_at = utcnow()


def live_workers(session: Session, within_s: float) -> int:
    since = utcnow() - timedelta(seconds=within_s)
    return int(session.scalar(select(func.count()).where(WorkerBeat.seen_at >= since)) or 0)
