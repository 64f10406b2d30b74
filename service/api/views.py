"""A stored job as the API shows it (gradprobe.api.JobView)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from gradprobe.api import JobView
from service.store.jobs import NewJob
from service.store.models import Job


def job_path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def job_view(job: Job | Row[Any] | NewJob) -> JobView:
    """From an ORM `Job`, a row of the jobs table (service/store/reads.py) or a job just
    inserted."""
    path = job_path(job.id)
    return JobView.model_validate(
        {
            "id": job.id,
            "name": job.name,
            "status": job.status,
            "queue": job.queue,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "attempts": job.attempt,
            "cancel_requested": job.cancel_requested,
            "progress": {"step": job.step, "total": job.total_steps, "loss": job.loss},
            "summary": job.summary,
            "error": job.error,
            "links": {"self": path, "stats": f"{path}/stats", "cancel": f"{path}/cancel"},
        }
    )
