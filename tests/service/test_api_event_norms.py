"""The per-layer norms in the job event stream, in process: what a worker stores with its
progress is what a listener gets, and only for the step it belongs to."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.testclient import TestClient

from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import claim, finish, progress

Headers = dict[str, str]


def norms(step: int) -> dict[str, Any]:
    layers = {"h1.linear": [0.5 / (step + 1), 0.25], "h1.act": [0.125, None]}
    metrics = ["act_grad_norm", "weight_grad_norm"]
    return {"step": step, "metrics": metrics, "layers": layers, "layer_count": 2}


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            yield kind, json.loads(line[len("data: ") :])


def test_progress_events_carry_the_stored_norms_of_their_step(
    client: TestClient,
    alice: Headers,
    settings: Settings,
    submit: Callable[..., dict[str, Any]],
) -> None:
    job_id = submit()["id"]
    url = settings.store_url
    with session_scope(url) as session:
        job = claim(session, job_id, "w1", 60)
        assert job is not None
        assert progress(session, job_id, job.token, 10, 2.5, norms(10))

    def write(step: int, stored: dict[str, Any] | None) -> None:
        with session_scope(url) as session:
            assert job is not None and progress(session, job_id, job.token, step, 2.0, stored)

    seen: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=alice, timeout=30) as r:
        stream = events(r.iter_lines())
        for kind, data in stream:  # ends when the server ends the stream: no sleeps
            seen.append((kind, data))
            if kind == "progress" and data["step"] == 10:
                # norms from another probe than the step (an earlier attempt's): not sent
                with session_scope(url) as session:
                    assert progress(session, job_id, job.token, 15, 2.2, None)
            elif kind == "progress" and data["step"] == 15:
                write(20, norms(20))
            elif kind == "progress" and data["step"] == 20:
                with session_scope(url) as session:
                    finish(session, job_id, job.token, "cancelled", step=20)
    progress_events = [data for kind, data in seen if kind == "progress"]
    assert [p["step"] for p in progress_events] == [10, 15, 20]
    assert progress_events[0]["norms"] == norms(10)  # read at subscribe
    assert progress_events[1]["norms"] is None  # the stored norms are of step 10
    assert progress_events[2]["norms"] == norms(20)  # read by the watcher as the step moved
    assert progress_events[2]["loss"] == 2.0 and progress_events[2]["total"] > 0
    assert [d["status"] for k, d in seen if k == "status"] == ["running", "cancelled"]
    job_view = client.get(f"/v1/jobs/{job_id}", headers=alice).json()
    assert "norms" not in job_view["progress"]  # GET /v1/jobs/{id} stays small
