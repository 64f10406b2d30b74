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


def test_a_stream_follows_a_job_in_order_with_its_layer_norms_and_ends_at_its_terminal_state(
    service: Service,
) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    with service.client() as http:
        job_id = http.post("/v1/jobs", json=progress_spec()).json()["id"]
        with http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=180) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())  # returns when the server ends the stream
        layers = [la["name"] for la in http.get(f"/v1/jobs/{job_id}/stats").json()["layers"]]
    statuses = [data["status"] for kind, data in events if kind == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    progress = [data for kind, data in events if kind == "progress"]
    steps = [data["step"] for data in progress]
    assert len(steps) >= 3 and steps == sorted(steps) and len(set(steps)) == len(steps)
    assert steps[-1] == 800
    # Every progress event past the first probe carries that probe's norms, by layer name
    # (the queued job's step-0 event has none yet); the last probe's are always written.
    measured = [data for data in progress if data["step"] > 0]
    assert len(measured) >= 2
    for data in measured:
        norms = data["norms"]
        assert norms is not None, data
        assert norms["step"] == data["step"]
        assert norms["metrics"] == ["act_grad_norm", "weight_grad_norm"]
        assert list(norms["layers"]) == layers and norms["layer_count"] == len(layers)
        values = [v for pair in norms["layers"].values() for v in pair if v is not None]
        assert len(values) == 2 * 11 + 10 and min(values) >= 0  # no weights in activations
        assert norms["layers"]["out.linear"][0] > 0  # ∂L/∂output while the loss is not 0
    # Early on every layer's weights get a gradient (this net's ReLUs die later on).
    assert any(data["norms"]["layers"]["h1.linear"][1] > 0 for data in measured)
    assert len(layers) == 21 and "h10.act" in layers
