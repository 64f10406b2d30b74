"""Server-Sent Events of a job, live: the real API, a worker, Redis and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.harness import Service
from tests.integration.specs import progress_spec


def _events(lines: Any) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[len("data: ") :])))
    return events


def test_a_stream_follows_a_job_in_order_and_ends_at_its_terminal_state(
    service: Service,
) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    with service.client() as http:
        job_id = http.post("/v1/jobs", json=progress_spec()).json()["id"]
        with http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=180) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())  # returns when the server ends the stream
    statuses = [data["status"] for kind, data in events if kind == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    steps = [data["step"] for kind, data in events if kind == "progress"]
    assert len(steps) >= 3 and steps == sorted(steps) and len(set(steps)) == len(steps)
    assert steps[-1] == 800
