"""The Celery app, configured from Settings. Importing it never imports torch: the API
publishes through it, and only the worker loads the task module (service.tasks.job)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from service.settings import Settings, get_settings
from service.tasks import fsbroker, redis_messages

log = logging.getLogger(__name__)

TASK = "gradprobe.run_job"
QUEUES = ("gpu", "cpu")


def _transport_options(s: Settings) -> dict[str, Any]:
    if s.broker.startswith(fsbroker.ALIAS):
        folder = s.broker_folder
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "polling_interval": s.broker_poll_s,
        }
    # Redis re-delivers an unacked task after the visibility timeout even while it still
    # runs: keep it above the hard time limit (the store's lease handles dead workers).
    return {"visibility_timeout": s.hard_time_limit_s + 600}


def make_app(s: Settings | None = None) -> Celery:
    s = s or get_settings()
    fsbroker.register()
    app = Celery("gradprobe", broker=s.broker, include=[])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=s.soft_time_limit_s,
        task_time_limit=s.hard_time_limit_s,
        task_queues=[Queue(q, Exchange(q), routing_key=q) for q in QUEUES],
        task_default_queue=s.default_queue,
        broker_transport_options=_transport_options(s),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=True,
    )
    return app


def publish(app: Celery, job_id: str, queue: str, producer: Any = None) -> None:
    """Send a job's id (never its spec) to `queue`. The task id is the job id, so one
    revoke covers every delivery of the job."""
    app.send_task(
        TASK, args=[job_id], task_id=job_id, queue=queue, routing_key=queue, producer=producer
    )


def publish_many(app: Celery, jobs: Sequence[tuple[str, str]]) -> list[str]:
    """Publish (job id, queue) pairs in one go: on Redis, one pipelined round trip of the
    messages Celery would send (service/tasks/redis_messages.py); elsewhere (the filesystem
    transport) through one producer, each at once. Returns the ids that may not have been
    published: all of them when the batch failed, since which of its messages went is not
    known (the sweeper publishes them again, and a worker's claim ignores a second
    delivery)."""
    broker = str(app.conf.broker_url)
    try:
        if redis_messages.is_redis(broker):
            redis_messages.push(broker, TASK, jobs)
            return []
        with app.producer_or_acquire() as producer, producer.batch():
            for job_id, queue in jobs:
                publish(app, job_id, queue, producer)
    except Exception as exc:
        log.warning("%d jobs may not be published (%s)", len(jobs), exc)
        return [job_id for job_id, _ in jobs]
    return []
