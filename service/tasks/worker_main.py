"""`gradprobe-server worker`: a Celery prefork worker plus its housekeeping thread.

torch is imported (by worker.run) once, in the parent; the pool children inherit it by fork, so
no job pays for the import. The housekeeping thread beats (for /readyz) and sweeps the
store for lost jobs (see service.store.jobs.sweep) and publishes them again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from typing import Any

from billiard.process import current_process
from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from service.settings import Settings, get_settings
from service.store.db import engine_for, session_scope, wait_for_store
from service.store.jobs import beat, mark_published, sweep
from service.tasks.app import make_app, publish

log = logging.getLogger("gradprobe.worker")
# Set by `gradprobe-server up` for the worker it starts: the worker follows its parent out.
PARENT = int(os.environ.get("GRADPROBE_EMBEDDED_PARENT", "0") or 0)


class Housekeeper(threading.Thread):
    def __init__(self, app: Celery, s: Settings, name: str) -> None:
        super().__init__(name="housekeeper", daemon=True)
        self.app, self.s, self.worker = app, s, name
        self.stopped = threading.Event()

    def run(self) -> None:
        every = min(self.s.sweep_s, 1.0 if PARENT else 5.0)
        since_sweep = self.s.sweep_s  # sweep at once on start
        while not self.stopped.is_set():
            if PARENT and os.getppid() != PARENT:  # `gradprobe-server up` is gone
                log.warning("the embedded server exited: stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            try:
                with session_scope(self.s.store_url) as session:
                    beat(session, self.worker, self.s.queues)
                if since_sweep >= self.s.sweep_s:
                    self.sweep_once()
                    since_sweep = 0.0
            except Exception:
                log.exception("housekeeping failed; trying again")
            self.stopped.wait(every)
            since_sweep += every

    def sweep_once(self) -> None:
        with session_scope(self.s.store_url) as session:
            found = sweep(session, self.s.max_attempts, self.s.republish_after_s)
        for job_id in found.failed:
            log.warning("job %s failed: its worker was lost too many times", job_id)
        for job_id, queue in found.requeued:
            log.warning("job %s: re-publishing (lost worker or message)", job_id)
            publish(self.app, job_id, queue)
            with session_scope(self.s.store_url) as session:
                mark_published(session, job_id)


def pin_gpu(gpus: str) -> None:
    """Give this pool process its own GPU (before CUDA starts in it): process i of the pool
    gets the i-th id of `gpus`, so --concurrency N on N GPUs runs one job per GPU."""
    ids = [g.strip() for g in gpus.split(",") if g.strip()]
    if ids:
        index = getattr(current_process(), "index", 0)
        os.environ["CUDA_VISIBLE_DEVICES"] = ids[index % len(ids)]


def threads_per_job(configured: int, concurrency: int) -> int:
    """torch threads for one pool process: as configured, else an equal share of the cores
    (N processes each using every core would thrash)."""
    return configured or max(1, (os.cpu_count() or 1) // max(1, concurrency))


def main(queues: str | None = None, concurrency: int = 1, loglevel: str = "INFO") -> None:
    import worker.run  # torch, once, in the parent
    from service.tasks import job

    s = get_settings()
    if queues:
        s = s.model_copy(update={"queues": queues})
    logging.basicConfig(level=loglevel, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    wait_for_store(s.store_url)
    name = f"gradprobe-{socket.gethostname()}-{os.getpid()}"
    app = make_app(s)
    job.register(app, name)
    keeper = Housekeeper(app, s, name)

    @worker_process_init.connect(weak=False)
    def _child_init(**_: Any) -> None:
        engine_for(s.store_url).dispose(close=False)  # never share a parent's sockets
        pin_gpu(s.gpus)
        worker.run.use_threads(threads_per_job(s.torch_threads, concurrency))

    @worker_ready.connect(weak=False)
    def _start(**_: Any) -> None:
        keeper.start()

    @worker_shutdown.connect(weak=False)
    def _stop(**_: Any) -> None:
        keeper.stopped.set()

    app.worker_main(
        [
            "worker",
            f"--queues={s.queues}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--hostname={name}@%h",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
