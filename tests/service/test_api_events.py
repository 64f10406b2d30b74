"""The job event stream in process: a finished job's stream, errors, and disconnection."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

Headers = dict[str, str]


def test_a_finished_job_streams_its_status_and_progress_and_ends(
    client: TestClient, alice: Headers, finished_job: str
) -> None:
    with client.stream("GET", f"/v1/jobs/{finished_job}/events", headers=alice) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = list(r.iter_lines())
    kinds = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert kinds == ["status", "progress"]
    status = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
    assert status["id"] == finished_job and status["status"] == "succeeded"


def test_events_need_a_key_and_the_tenants_job(
    client: TestClient, alice: Headers, bob: Headers, finished_job: str
) -> None:
    assert client.get(f"/v1/jobs/{finished_job}/events").status_code == 401
    assert client.get(f"/v1/jobs/{finished_job}/events", headers=bob).status_code == 404


def test_a_client_that_disconnects_leaves_nothing_watching(
    app: FastAPI, client: TestClient, alice: Headers, submit: Callable[..., dict[str, Any]]
) -> None:
    job_id = submit()["id"]  # queued forever: no worker here
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=alice) as r:
        first = next(r.iter_lines())
        assert first.startswith("id: ")
        assert job_id in app.state.watcher.jobs
    deadline = time.monotonic() + 10
    while app.state.watcher.jobs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.state.watcher.jobs == {}
