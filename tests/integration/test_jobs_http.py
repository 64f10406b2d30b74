"""Through HTTP alone, against the real API, Celery workers, Redis and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.harness import Redis, Service, job_status, wait_for, wait_status
from tests.integration.specs import FAMILY_MODELS, family_spec, long_spec, progress_spec
from worker.run import execute


def _local(spec: dict[str, Any]) -> dict[str, Any]:
    """What `gradprobe-server run` gives for the spec: the same engine, in this process."""
    return dict(json.loads(execute(spec).model_dump_json()))


def test_every_family_runs_to_the_same_statistics_as_the_local_command(service: Service) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    with service.client() as http:
        slow = http.post("/v1/jobs", json=progress_spec())
        assert slow.status_code == 202, slow.text
        assert slow.headers["location"] == f"/v1/jobs/{slow.json()['id']}"
        ids = {}
        for family in FAMILY_MODELS:
            r = http.post("/v1/jobs", json=family_spec(family))
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "queued"
            ids[family] = r.json()["id"]

        # queued -> running with visible progress -> succeeded
        seen = wait_for(
            lambda: (
                (j := job_status(http, slow.json()["id"]))["status"] == "running"
                and 0 < j["progress"]["step"] < j["progress"]["total"]
                and j
            ),
            120,
            "the slow job running with progress",
        )
        assert seen["progress"]["total"] == 800 and seen["attempts"] == 1
        done = wait_status(http, slow.json()["id"], ("succeeded",), 180)
        assert done["summary"]["verdict"] and done["finished_at"]

        for family, job_id in ids.items():
            job = wait_status(http, job_id, ("succeeded", "failed"), 180)
            assert job["status"] == "succeeded", (family, job.get("error"))
            served = http.get(f"/v1/jobs/{job_id}/stats").json()
            local = _local(family_spec(family))
            assert served["steps"] == local["steps"], family
            assert served["metrics"] == local["metrics"], family
            assert served["loss"] == local["loss"], family
            assert served["summary"]["verdict"] == local["summary"]["verdict"], family


def test_cancel_stops_within_seconds_and_frees_the_worker(service: Service) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    with service.client() as http:
        job_id = http.post("/v1/jobs", json=long_spec()).json()["id"]
        wait_for(
            lambda: job_status(http, job_id)["progress"]["step"] > 0, 120, "the long job to run"
        )
        r = http.post(f"/v1/jobs/{job_id}/cancel")
        assert r.status_code == 202, r.text
        job = wait_status(http, job_id, ("cancelled",), 10)
        assert job["progress"]["step"] < 100_000
        # the same (only) worker takes the next job
        nxt = http.post("/v1/jobs", json=family_spec("mlp")).json()["id"]
        assert wait_status(http, nxt, ("succeeded", "failed"), 60)["status"] == "succeeded"


def test_a_failing_job_stores_a_useful_error(service: Service) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker(soft_time_limit_s="2", hard_time_limit_s="20"))
    with service.client() as http:
        job_id = http.post("/v1/jobs", json=long_spec()).json()["id"]
        job = wait_status(http, job_id, ("failed", "succeeded"), 60)
        assert job["status"] == "failed"
        assert job["error"]["type"] == "time_limit"
        assert "time limit" in job["error"]["message"]


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"model": {"type": "mlp", "depth": -1}}, "$.model.depth"),
        ({"model": {"type": "mlp", "depth": 3}, "train": {"lr": "fast"}}, "$.train"),
        ({"model": {"type": "mlp"}, "train": {"steps": 10**9}}, "$.train.steps"),
    ],
)
def test_a_bad_spec_is_a_422_naming_the_field_with_nothing_queued(
    service: Service, redis_server: Redis, spec: dict[str, Any], path: str
) -> None:
    service.start_api()
    with service.client() as http:
        r = http.post("/v1/jobs", json=spec)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        paths = [e["path"] for e in r.json()["errors"]]
        assert any(p.startswith(path) for p in paths), paths
        assert http.get("/v1/jobs").json()["items"] == []
    assert redis_server.llen("cpu") == redis_server.llen("gpu") == 0
