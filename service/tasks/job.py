"""The one task: run a job by id. Loaded only by worker processes (it imports torch)."""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Callable
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
from worker.run import LayerNorms, execute

log = logging.getLogger(__name__)
# At most this many progress writes a second per job (the API's event watcher reads the
# store 4 times a second: more would not be seen).
PROGRESS_WRITES_PER_S = 4.0


class Throttle:
    """A job's progress reports, passed on to `write` at most once per `interval_s`.

    A report that comes sooner is held; the next report let through replaces it, and
    `flush()`, called when training ends, writes it, so the last probe is always written.
    Each report carries `latest()`, which builds its per-layer norms: only the reports
    written pay for them.
    """

    def __init__(
        self,
        write: Callable[[int, float | None, LayerNorms | None], None],
        interval_s: float = 1.0 / PROGRESS_WRITES_PER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.interval_s, self.clock = write, interval_s, clock
        self.written_at = -math.inf
        self.held: tuple[int, float | None, Callable[[], LayerNorms]] | None = None

    def __call__(self, step: int, loss: float | None, latest: Callable[[], LayerNorms]) -> None:
        now = self.clock()
        if now - self.written_at < self.interval_s:
            self.held = (step, loss, latest)
            return
        self.held, self.written_at = None, now
        self.write(step, loss, latest())

    def flush(self) -> None:
        if self.held is not None:
            step, loss, latest = self.held
            self.held, self.written_at = None, self.clock()
            self.write(step, loss, latest())


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

    def write(step: int, loss: float | None, norms: LayerNorms | None) -> None:
        try:
            with session_scope(url) as session:
                progress(session, job.job_id, job.token, step, loss, norms)
        except Exception:  # progress is best effort: a blink of the store must not fail a job
            log.exception("job %s: could not write progress", job.job_id)

    report = Throttle(write)
    with Lease(url, job, s.lease_s) as lease:
        try:
            spec = JobSpec.model_validate(job.spec)
            result = execute(spec, s.caps(), layer_progress=report, should_cancel=lease.should_stop)
            report.flush()
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
