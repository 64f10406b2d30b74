"""The one task: run a job by id. Loaded only by worker processes (it imports torch)."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

from gradprobe.errors import SpecError
from gradprobe.spec import JobSpec
from service.settings import Settings, get_settings
from service.store.db import session_scope
from service.store.jobs import Claim, claim, finish, progress
from service.tasks.app import TASK
from service.tasks.lease import Lease
from worker.run import execute

log = logging.getLogger(__name__)


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, SpecError):
        return {
            "type": "spec_error",
            "message": str(exc),
            "errors": [e.to_dict() for e in exc.errors],
        }
    if isinstance(exc, SoftTimeLimitExceeded):
        return {"type": "time_limit", "message": "the job ran past its time limit"}
    tail = "".join(traceback.format_exception(exc)[-3:])
    return {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__, "trace": tail}


def run_claimed(s: Settings, job: Claim, worker: str) -> str:
    """Train a claimed job under its lease and store its one outcome; returns the status."""
    url = s.store_url

    def report(step: int, loss: float | None) -> None:
        try:
            with session_scope(url) as session:
                progress(session, job.job_id, job.token, step, loss)
        except Exception:  # progress is best effort: a blink of the store must not fail a job
            log.exception("job %s: could not write progress", job.job_id)

    with Lease(url, job, s.lease_s) as lease:
        try:
            spec = JobSpec.model_validate(job.spec)
            result = execute(spec, s.caps(), progress=report, should_cancel=lease.should_stop)
        except Exception as exc:
            log.warning("job %s failed: %s", job.job_id, exc)
            with session_scope(url) as session:
                finish(session, job.job_id, job.token, "failed", error=_error(exc))
            return "failed"
    if lease.lost.is_set():
        log.warning("job %s: lease lost, result dropped", job.job_id)
        return "lost"
    status = "cancelled" if lease.cancelled.is_set() else "succeeded"
    document = result.model_dump_json().encode()
    summary = result.summary.model_dump(mode="json")
    last = result.steps[-1] if result.steps else 0
    with session_scope(url) as session:
        finish(
            session, job.job_id, job.token, status, document=document, summary=summary, step=last
        )
    return status


def register(app: Celery, worker_name: str) -> None:
    @app.task(name=TASK, ignore_result=True)
    def run_job(job_id: str) -> str:
        s = get_settings()
        with session_scope(s.store_url) as session:
            job = claim(session, job_id, worker_name, s.lease_s)
        if job is None:
            log.info("job %s: not queued any more, delivery ignored", job_id)
            return "ignored"
        log.info("job %s: attempt %d", job_id, job.attempt)
        return run_claimed(s, job, worker_name)
