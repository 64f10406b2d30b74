"""Which jobs changed, as PostgreSQL tells it: the API's job views stay fresh without a read.

A trigger (migration 0005) runs `pg_notify('gradprobe_jobs', id)` after every update of a
column that `GET /v1/jobs/{id}` shows and after every delete, whoever writes: a worker, the
sweeper, another API process, an operator's `psql`. `JobChanges` keeps one connection that
LISTENs, in a daemon thread, and calls `on_change(job_id)` for each notice as it comes, then
`on_batch(job_ids)` with the notices of each short window (`batch_s`), for whoever wants to
read the changed jobs again together rather than one request at a time. Whenever it is
not sure to have heard everything (before the first LISTEN, after the connection drops) it
calls `on_listening(False)`, and `on_listening(True)` once it listens again: whoever caches
must then forget everything. SQLite has no notifications: `conninfo_for` returns None.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "gradprobe_jobs"

# The columns of `jobs` that service/api/views.py:job_view reads; an UPDATE that sets one of
# them notifies (the trigger of migration 0005 names the same list; a test keeps them equal).
VIEW_COLUMNS = (
    "name",
    "status",
    "queue",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "attempt",
    "cancel_requested",
    "step",
    "total_steps",
    "loss",
    "summary",
    "error",
    "tenant_id",
)


def conninfo_for(store_url: str) -> str | None:
    """A libpq connection string for a PostgreSQL store URL; None for any other store."""
    url = make_url(store_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class JobChanges:
    """Listens for job change notices until `stop()`; reconnects after `retry_s` on a loss."""

    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[str], None],
        on_listening: Callable[[bool], None],
        on_batch: Callable[[list[str]], None] | None = None,
        retry_s: float = 1.0,
        batch_s: float = 0.05,
    ) -> None:
        self.conninfo = conninfo
        self.on_change, self.on_listening, self.on_batch = on_change, on_listening, on_batch
        self.retry_s, self.batch_s = retry_s, batch_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-changes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # a lost or refused connection: listen again shortly
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "job change notices interrupted (%r); retrying", exc)
            else:
                failures = 0
            self._stop.wait(self.retry_s)

    def _listen(self) -> None:
        with psycopg.connect(
            self.conninfo, autocommit=True, connect_timeout=5, keepalives_idle=10
        ) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # Only now can nothing be missed: whatever was cached before may be stale.
            self.on_listening(True)
            log.info("listening for job change notices")
            try:
                while not self._stop.is_set():
                    changed: dict[str, None] = {}  # in order, once each
                    for notice in conn.notifies(timeout=self.batch_s):
                        self.on_change(notice.payload)
                        changed[notice.payload] = None
                    if changed and self.on_batch is not None:
                        self._batch(list(changed))
            finally:
                self.on_listening(False)

    def _batch(self, job_ids: list[str]) -> None:
        try:
            self.on_batch(job_ids)  # type: ignore[misc]
        except Exception:  # a failed refresh only leaves the views to be read on demand
            log.exception("job change batch not handled")
