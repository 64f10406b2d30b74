"""POSTs that arrive together are stored together: one transaction and one producer for a
batch of jobs, instead of a commit (an fsync) and a broker checkout for each.

A POST hands its body to the `SubmitBatcher` and awaits its own answer. While a batch is in
the store, the next POSTs gather; when it is done, all of them go as the next batch. So a
lone POST is not delayed (it is a batch of one) and under load a batch holds about as many
POSTs as arrive during one store round, up to `max_batch`, with at most `in_flight` batches
in the store at once. Every rule of `submit.py` holds per
job: the spec is checked, an Idempotency-Key is replayed, the tenant's active-job limit
counts the batch's earlier jobs, and every job is committed before it is published (a job
the broker refuses is left for the sweeper). A batch that conflicts on an Idempotency-Key
(two requests with the same key in flight) is rolled back and stored one job at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gradprobe.spec import JobSpec
from service.api.planning import plan_posted
from service.api.submit import (
    Submitted,
    body_digest,
    pick_queue,
    replay_job,
    submit,
    too_many_active,
)
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import NewJob, active_counts, insert_jobs, mark_unpublished, new_job
from service.tasks.app import publish_many

MAX_BATCH = 64
IN_FLIGHT = 2  # batches in the store at once (PostgreSQL): one commits while one publishes

Outcome = Submitted | BaseException
Key = tuple[str, str] | None  # (Idempotency-Key, the body's digest) when a key came
Admitted = tuple[int, NewJob, Key]  # (place in the batch, job, its key)


@dataclass
class Pending:
    tenant: str
    raw: dict[str, Any]
    key: str | None
    answer: asyncio.Future[Submitted] = field(repr=False)


class SubmitBatcher:
    def __init__(
        self,
        settings: Settings,
        celery: Celery,
        limiter: CapacityLimiter,
        max_batch: int = MAX_BATCH,
        in_flight: int | None = None,
    ) -> None:
        self.settings, self.celery, self.limiter = settings, celery, limiter
        self.max_batch = max_batch
        # SQLite has one writer: a second batch in flight would only wait for it.
        sqlite = settings.store_url.startswith("sqlite")
        self.in_flight = in_flight or (1 if sqlite else IN_FLIGHT)
        self._waiting: list[Pending] = []
        self._drainers: set[asyncio.Task[None]] = set()

    async def submit(self, tenant: str, raw: dict[str, Any], key: str | None) -> Submitted:
        """Store and publish one job (or replay it); raises what `submit.submit` raises."""
        answer: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        self._waiting.append(Pending(tenant, raw, key, answer))
        if len(self._drainers) < self.in_flight:
            drainer = asyncio.create_task(self._drain())
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        return await answer

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                outcomes = await anyio.to_thread.run_sync(
                    store_batch, self.settings, self.celery, batch, limiter=self.limiter
                )
            except Exception as exc:  # the store is down: every POST of the batch fails
                outcomes = [exc] * len(batch)
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.answer.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    pending.answer.set_exception(outcome)
                else:
                    pending.answer.set_result(outcome)


def _checked(settings: Settings, p: Pending) -> tuple[JobSpec, Key] | BaseException:
    """The checked spec, and its key (the body is digested only when a key came with it)."""
    try:
        spec = plan_posted(p.raw, settings.caps()).spec
        return spec, None if p.key is None else (p.key, body_digest(p.raw))
    except Exception as exc:  # a SpecError or an ApiError: this POST's answer
        return exc


def store_batch(settings: Settings, celery: Celery, batch: list[Pending]) -> list[Outcome]:
    """The blocking work of a batch of POSTs: one outcome (a `Submitted` or the error to
    raise) per POST, in order."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    checked = [_checked(settings, p) for p in batch]
    with session_scope(settings.store_url) as session:
        fresh: list[tuple[int, JobSpec, Key]] = []
        for i, (p, c) in enumerate(zip(batch, checked, strict=True)):
            if isinstance(c, BaseException):
                outcomes[i] = c
                continue
            spec, key = c
            if key is not None:
                try:
                    earlier = replay_job(session, p.tenant, *key)
                except Exception as exc:  # the key came with another body: a 422
                    outcomes[i] = exc
                    continue
                if earlier is not None:
                    outcomes[i] = Submitted(earlier, True)
                    continue
            fresh.append((i, spec, key))
        jobs = _admit(session, settings, batch, fresh, outcomes)
        try:
            _insert(session, jobs)
        except IntegrityError:  # an Idempotency-Key raced: one job at a time settles it
            session.rollback()
            for i, _, _ in jobs:
                outcomes[i] = _alone(settings, celery, batch[i])
            return _all(outcomes)
        unpublished = publish_many(celery, [(job.id, job.queue) for _, job, _ in jobs])
        for job_id in unpublished:
            mark_unpublished(session, job_id)
        for i, job, _ in jobs:
            outcomes[i] = Submitted(job, False)
    return _all(outcomes)


def _all(outcomes: list[Outcome | None]) -> list[Outcome]:
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(outcomes), "a POST of the batch got no answer"
    return done


def _admit(
    session: Session,
    settings: Settings,
    batch: list[Pending],
    fresh: list[tuple[int, JobSpec, Key]],
    outcomes: list[Outcome | None],
) -> list[Admitted]:
    """The batch's new jobs that fit their tenant's active-job limit, in arrival order."""
    active = active_counts(session, {batch[i].tenant for i, _, _ in fresh})
    limit = settings.max_active_jobs
    jobs: list[Admitted] = []
    for i, spec, key in fresh:
        p = batch[i]
        if active[p.tenant] + 1 > limit:
            outcomes[i] = too_many_active(active[p.tenant], limit)
            continue
        active[p.tenant] += 1
        job = new_job(
            p.tenant,
            spec.model_dump(mode="json"),
            spec.train.steps,
            pick_queue(spec, settings),
            spec.name or None,
        )
        jobs.append((i, job, key))
    return jobs


def _insert(session: Session, jobs: list[Admitted]) -> None:
    """All the jobs in one INSERT, then their Idempotency-Keys, then one commit."""
    keys = [(job, *key) for _, job, key in jobs if key is not None]
    insert_jobs(session, [job for _, job, _ in jobs], keys)
    session.commit()


def _alone(settings: Settings, celery: Celery, p: Pending) -> Outcome:
    try:
        return submit(settings, celery, p.tenant, p.raw, p.key)
    except Exception as exc:
        return exc
