"""`client.studies`: create, get, list, cancel, plot, and wait (live from the study's events,
or by polling). Each test runs with `Client` and with `AsyncClient`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gradprobe.client import Conflict, StudyWaitTimeout
from tests.client.conftest import FakeTime, Server
from tests.client.factories import sse, study_cell, study_row, study_view

STUDY = "/v1/studies/st_1"
EVENTS = "/v1/studies/st_1/events"
BODY = {"base": {"model": {"type": "mlp", "depth": 50}}, "grid": {"model.norm": ["none", "batch"]}}
QUEUED = study_view(
    "queued", [study_cell("plain", "job_1", "queued"), study_cell("bn", "job_2", "queued")], []
)
RUNNING = study_view(
    "running",
    [study_cell("plain", "job_1", "succeeded", 100), study_cell("bn", "job_2", "running", 40)],
    [study_row("plain", "job_1", "vanishing")],
)
DONE = study_view(
    "succeeded",
    [study_cell("plain", "job_1", "succeeded", 100), study_cell("bn", "job_2", "succeeded", 100)],
    [study_row("plain", "job_1", "vanishing"), study_row("bn", "job_2", "healthy")],
)


def cell(variant: str, job_id: str, state: str, step: int) -> tuple[str, dict[str, Any]]:
    data = {"variant": variant, "job_id": job_id, "status": state}
    return "cell", {**data, "progress": {"step": step, "total": 100, "loss": None}}


def status(state: str) -> tuple[str, dict[str, Any]]:
    return "status", {"id": "st_1", "status": state, "counts": {state: 2}}


def states(seen: list[Any]) -> list[tuple[str, list[tuple[str, int]]]]:
    return [(v.status, [(c.status, c.progress.step) for c in v.cells]) for v in seen]


def test_create_get_cancel_and_plot(client: Any, server: Server) -> None:
    server.on("POST", "/v1/studies", httpx.Response(202, json=QUEUED))
    server.on("GET", STUDY, DONE)
    server.on("POST", f"{STUDY}/cancel", httpx.Response(202, json=RUNNING))
    server.on("GET", f"{STUDY}/plots/compare.svg", httpx.Response(200, content=b"<svg/>"))
    view = client.studies.create(BODY)
    assert view.id == "st_1" and [c.variant for c in view.cells] == ["plain", "bn"]
    posted = server.calls("POST", "/v1/studies")[0]
    assert json.loads(posted.content) == BODY and posted.headers["idempotency-key"]
    assert [r.verdict for r in client.studies.get("st_1").table] == ["vanishing", "healthy"]
    assert client.studies.cancel("st_1").status == "running"
    assert client.studies.plot("st_1", "svg") == b"<svg/>"
    assert server.calls("GET", f"{STUDY}/plots/compare.svg")[0].headers["accept"] == (
        "image/svg+xml"
    )


def test_a_plot_before_any_result_is_a_conflict(client: Any, server: Server) -> None:
    body = {"type": "urn:gradprobe:problem:no-result", "title": "Conflict", "status": 409}
    server.on("GET", f"{STUDY}/plots/compare.png", httpx.Response(409, json=body))
    with pytest.raises(Conflict):
        client.studies.plot("st_1")


def test_list_pages_through_the_cursor(client: Any, server: Server) -> None:
    brief = {k: DONE[k] for k in ("id", "name", "status", "created_at", "counts", "links")}

    def page(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        start = int(cursor or 0)
        size = int(request.url.params["limit"])
        items = [{**brief, "id": f"st_{i}"} for i in range(start, min(start + size, 5))]
        more = str(start + size) if start + size < 5 else None
        return httpx.Response(200, json={"items": items, "next_cursor": more})

    server.on("GET", "/v1/studies", page)
    assert [s.id for s in client.studies.list(page_size=2)] == [f"st_{i}" for i in range(5)]
    assert len(server.calls("GET", "/v1/studies")) == 3
    assert [s.id for s in client.studies.list(limit=3, page_size=2)] == ["st_0", "st_1", "st_2"]
    assert [r.url.params["limit"] for r in server.calls("GET", "/v1/studies")[3:]] == ["2", "1"]


def test_wait_follows_the_study_events(client: Any, server: Server, fake_time: FakeTime) -> None:
    server.on("GET", STUDY, QUEUED, DONE)  # at the start; then once the stream says it ended
    server.on(
        "GET",
        EVENTS,
        sse(
            cell("plain", "job_1", "running", 50),
            status("running"),
            cell("bn", "job_2", "succeeded", 100),
            status("running"),  # the same again: no callback
            cell("plain", "job_1", "succeeded", 100),
            status("succeeded"),
        ),
    )
    seen: list[Any] = []
    view = client.studies.wait("st_1", timeout=600, progress=seen.append)
    assert view.status == "succeeded" and [r.variant for r in view.table] == ["plain", "bn"]
    assert states(seen) == [
        ("queued", [("queued", 0), ("queued", 0)]),
        ("queued", [("running", 50), ("queued", 0)]),
        ("running", [("running", 50), ("queued", 0)]),
        ("running", [("running", 50), ("succeeded", 100)]),
        ("running", [("succeeded", 100), ("succeeded", 100)]),
        ("succeeded", [("succeeded", 100), ("succeeded", 100)]),
    ]
    assert len(server.calls("GET", STUDY)) == 2 and fake_time.sleeps == []


def test_wait_polls_without_a_stream_and_reports_changes_only(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on("GET", EVENTS, httpx.Response(501, text="no"))
    server.on("GET", STUDY, QUEUED, RUNNING, RUNNING, DONE)
    seen: list[Any] = []
    assert client.studies.wait("st_1", progress=seen.append).table[1].verdict == "healthy"
    assert [v.status for v in seen] == ["queued", "running", "succeeded"]
    assert fake_time.sleeps == pytest.approx([0.5, 0.75, 1.125])


def test_wait_ends_at_the_deadline(client: Any, server: Server, fake_time: FakeTime) -> None:
    server.on("GET", STUDY, RUNNING)  # no events route: 404, so it polls
    start = fake_time.now
    with pytest.raises(StudyWaitTimeout) as caught:
        client.studies.wait("st_1", timeout=5)
    assert caught.value.study.status == "running" and caught.value.timeout == 5
    assert fake_time.now - start == pytest.approx(5.0)
