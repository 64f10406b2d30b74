"""Job change notices from a real PostgreSQL: what the API's kept views rely on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest

from service.api.job_views import EncodedView, JobViews
from service.store.changes import JobChanges, conninfo_for
from service.store.db import engine_for, session_scope
from service.store.jobs import add_job, claim, delete_job, progress, renew
from service.store.migrate import upgrade
from tests.integration.harness import Postgres, Service, job_status, wait_for


@dataclass
class Heard:
    changes: list[str] = field(default_factory=list)
    listening: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def change(self, job_id: str) -> None:
        with self.lock:
            self.changes.append(job_id)

    def listen(self, on: bool) -> None:
        with self.lock:
            self.listening.append(on)


@pytest.fixture
def store(postgres: Postgres) -> Iterator[str]:
    url = postgres.new_database()
    upgrade(url)
    yield url
    engine_for(url).dispose()


def new_job(url: str) -> str:
    from service.store.keys import create_key

    with session_scope(url) as session:
        tenant = create_key(session, "t").tenant_id
        job = add_job(session, tenant, {"model": {}}, 10, "cpu", "n")
        return job.id


def test_view_changes_and_deletes_notify_lease_renewals_do_not(store: str) -> None:
    job_id = new_job(store)
    conninfo = conninfo_for(store)
    assert conninfo is not None
    heard = Heard()
    changes = JobChanges(conninfo, heard.change, heard.listen, retry_s=0.1)
    changes.start()
    try:
        wait_for(lambda: heard.listening == [True], 10, "the listener to start")
        with session_scope(store) as session:
            taken = claim(session, job_id, "w", 60)
        assert taken is not None
        wait_for(lambda: heard.changes == [job_id], 10, "the claim's notice")
        with session_scope(store) as session:
            assert renew(session, job_id, taken.token, 60) is False
        with session_scope(store) as session:
            assert progress(session, job_id, taken.token, 3, 0.5)
        wait_for(lambda: len(heard.changes) == 2, 10, "the progress notice")
        with session_scope(store) as session:
            delete_job(session, job_id)
        wait_for(lambda: len(heard.changes) == 3, 10, "the delete's notice")
        assert heard.changes == [job_id] * 3  # the renewal in between notified nothing
    finally:
        changes.stop()
    assert heard.listening == [True, False]


def test_a_lost_listener_forgets_the_views_and_listens_again(store: str) -> None:
    job_id = new_job(store)
    conninfo = conninfo_for(store)
    assert conninfo is not None
    views = JobViews()
    changes = JobChanges(conninfo, views.changed, views.listening_changed, retry_s=0.1)
    changes.start()
    try:
        wait_for(lambda: views.listening, 10, "the listener to start")
        views.keep(job_id, EncodedView.of("t", b"{}"), views.ticket())
        assert views.get(job_id) is not None
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
        wait_for(lambda: views.get(job_id) is None, 10, "the views to be forgotten")
        wait_for(lambda: views.listening, 10, "the listener to reconnect")
        views.keep(job_id, EncodedView.of("t", b"{}"), views.ticket())
        with session_scope(store) as session:
            taken = claim(session, job_id, "w", 60)
        assert taken is not None
        wait_for(lambda: views.get(job_id) is None, 10, "the claim to drop the view")
    finally:
        changes.stop()


def metric(http: httpx.Client, name: str) -> float:
    text = http.get("/metrics").text
    line = next(
        x for x in text.splitlines() if x.startswith(name + " ") or x.startswith(name + "{")
    )
    return float(line.split()[-1])


def memory_reads(http: httpx.Client) -> float:
    return metric(http, MEMORY_READS)


MEMORY_READS = 'gradprobe_job_view_reads_total{source="memory"}'
REFRESHES = 'gradprobe_job_view_reads_total{source="refresh"}'
STORE_READS = 'gradprobe_job_view_reads_total{source="store"}'


def test_the_api_answers_polls_from_memory_and_shows_every_change(service: Service) -> None:
    service.start_api()
    store = service.env["GRADPROBE_DATABASE_URL"]
    with service.client() as http:
        job_id = http.post("/v1/jobs", json={"model": {"type": "mlp", "depth": 2}}).json()["id"]

        def polled_from_memory() -> bool:
            before = memory_reads(http)
            assert job_status(http, job_id)["status"] == "queued"
            return memory_reads(http) > before

        wait_for(polled_from_memory, 20, "a poll answered from memory")
        # A write from outside the API (here: a worker's claim) shows up without a restart.
        with session_scope(store) as session:
            taken = claim(session, job_id, "w", 60)
        assert taken is not None
        wait_for(lambda: job_status(http, job_id)["status"] == "running", 10, "the claim")
        with session_scope(store) as session:
            assert progress(session, job_id, taken.token, 7, 0.25)
        wait_for(lambda: job_status(http, job_id)["progress"]["step"] == 7, 10, "the progress")
        # A job that moves while it is polled is read again by the listener, not by a poll:
        # its view comes back with no request, and the next poll is answered from memory.
        for step in (8, 9):
            assert job_status(http, job_id)["progress"]["step"] == step - 1
            wait_for(lambda: metric(http, "gradprobe_job_views_kept") == 1, 10, "kept")
            refreshed = metric(http, REFRESHES)
            with session_scope(store) as session:
                assert progress(session, job_id, taken.token, step, 0.25)
            wait_for(lambda r=refreshed: metric(http, REFRESHES) > r, 10, "read again")
            reads = memory_reads(http)
            assert job_status(http, job_id)["progress"]["step"] == step
            assert memory_reads(http) == reads + 1
        # The API's own write is seen by the next read at once, notice or not.
        assert http.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
        assert job_status(http, job_id)["cancel_requested"] is True
        assert http.delete(f"/v1/jobs/{job_id}").status_code == 204
        assert http.get(f"/v1/jobs/{job_id}").status_code == 404
    engine_for(store).dispose()


def test_the_notices_migrate_down_and_up(store: str) -> None:
    from alembic import command

    from service.store.migrate import alembic_config

    def triggers() -> set[str]:
        with engine_for(store).connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger"
                " WHERE tgrelid = 'jobs'::regclass AND NOT tgisinternal"
            )
            return {r[0] for r in rows}

    notices = {"jobs_view_changed", "jobs_deleted"}  # beside 0006's active-job count
    assert notices <= triggers()
    command.downgrade(alembic_config(store), "0004")
    assert triggers() == set()
    command.upgrade(alembic_config(store), "head")
    assert notices <= triggers()


def test_polls_survive_a_database_restart(service: Service, postgres: Postgres) -> None:
    service.start_api()
    with service.client() as http:
        job_id = http.post("/v1/jobs", json={"model": {"type": "mlp", "depth": 2}}).json()["id"]
        assert job_status(http, job_id)["status"] == "queued"
        postgres.stop()
        postgres.start()
        # The pooled read connections are stale now: the first read drops them and retries;
        # the listener reconnects; no poll sees a 5xx.
        for _ in range(20):
            r = http.get(f"/v1/jobs/{job_id}")
            assert r.status_code == 200, r.text
        wait_for(
            lambda: job_status(http, job_id)["status"] == "queued" and memory_reads(http) > 0,
            20,
            "polls answered from memory again",
        )


def test_job_views_can_be_turned_off(service: Service) -> None:
    """Behind a transaction-mode pooler LISTEN hears nothing: GRADPROBE_JOB_VIEWS=false."""
    service.env["GRADPROBE_JOB_VIEWS"] = "false"
    service.start_api()
    with service.client() as http:
        job_id = http.post("/v1/jobs", json={"model": {"type": "mlp", "depth": 2}}).json()["id"]
        for _ in range(5):
            assert job_status(http, job_id)["status"] == "queued"
        assert metric(http, "gradprobe_job_change_notices_heard") == 0
        assert memory_reads(http) == 0 and metric(http, STORE_READS) == 5
