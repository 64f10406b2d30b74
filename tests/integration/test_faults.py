"""Faults, as users meet them: a job accepted with 202 ends in exactly one stored result."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.integration.harness import Postgres, Redis, Service, job_status, wait_for, wait_status
from tests.integration.specs import family_spec, long_spec


def _rows(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def test_kill_9_of_the_worker_mid_job_reruns_it_once(service: Service) -> None:
    service.start_api()
    first = service.start_worker()
    service.wait_worker_ready(first)
    with service.client() as http:
        job_id = http.post("/v1/jobs", json=long_spec(steps=600)).json()["id"]
        wait_for(lambda: job_status(http, job_id)["progress"]["step"] > 0, 120, "the job to run")
        first.kill()  # the parent and its pool child, no goodbye
        service.wait_worker_ready(service.start_worker())
        job = wait_status(http, job_id, ("succeeded", "failed"), 300)
        assert job["status"] == "succeeded", job.get("error")
        assert job["attempts"] == 2
    url = service.env["GRADPROBE_DATABASE_URL"]
    assert _rows(url, "SELECT count(*) FROM results WHERE job_id = :j", j=job_id) == [(1,)]
    outcomes = _rows(
        url, "SELECT number, outcome FROM attempts WHERE job_id = :j ORDER BY number", j=job_id
    )
    assert outcomes == [(1, "lost"), (2, "succeeded")]


def test_redis_restarted_while_jobs_are_queued_loses_none(
    service: Service, redis_server: Redis
) -> None:
    service.start_api()
    with service.client() as http:
        ids = [http.post("/v1/jobs", json=family_spec("mlp")).json()["id"] for _ in range(5)]
        assert redis_server.llen("cpu") == 5
        redis_server.restart()
        service.wait_worker_ready(service.start_worker())
        for job_id in ids:
            assert wait_status(http, job_id, ("succeeded", "failed"), 120)["status"] == "succeeded"


def test_the_api_restarted_loses_nothing(service: Service) -> None:
    api = service.start_api()
    with service.client() as http:
        ids = [http.post("/v1/jobs", json=family_spec("mlp")).json()["id"] for _ in range(3)]
    api.kill()
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    with service.client() as http:
        listed = {j["id"] for j in http.get("/v1/jobs").json()["items"]}
        assert listed == set(ids)
        for job_id in ids:
            assert wait_status(http, job_id, ("succeeded", "failed"), 120)["status"] == "succeeded"


def test_a_worker_started_before_the_broker_and_the_store_waits_and_connects(
    tmp_path: Path,
) -> None:
    """Nothing listens yet on the broker's or the store's port when the worker starts."""
    late_pg = Postgres()
    redis = Redis(tmp_path)
    svc = Service(
        tmp_path,
        {
            "GRADPROBE_DATABASE_URL": late_pg.url("postgres"),
            "GRADPROBE_BROKER_URL": redis.url,
        },
    )
    try:
        worker = svc.start_worker()
        wait_for(lambda: "waiting for the store" in worker.output(), 60, "the worker to wait")
        late_pg.start()
        redis.start()
        svc.migrate()
        svc.key = svc.create_key()
        svc.wait_worker_ready(worker)
        svc.start_api()
        with svc.client() as http:
            job_id = http.post("/v1/jobs", json=family_spec("mlp")).json()["id"]
            assert wait_status(http, job_id, ("succeeded", "failed"), 120)["status"] == "succeeded"
    finally:
        svc.stop_all()
        print(svc.logs())
        redis.stop()
        if (late_pg.dir / "postmaster.pid").exists():
            late_pg.stop()
        late_pg.remove()
