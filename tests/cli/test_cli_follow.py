"""`submit --wait` follows the job's Server-Sent Events when the server sends them, and polls
when it does not or when the stream breaks."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import Cli, FakeTime, Server
from tests.client.factories import job_view, result_doc

SPEC = {"model": {"type": "mlp", "depth": 3, "width": 8}}


def sse(*items: tuple[str, object]) -> httpx.Response:
    text = ": keep-alive\n\n" + "".join(
        f"id: {i}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
        for i, (kind, data) in enumerate(items)
    )
    return httpx.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})


def scripted(server: Server, tmp_path) -> str:  # type: ignore[no-untyped-def]
    server.on("POST", "/v1/jobs", httpx.Response(202, json=job_view("job_1")))
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "succeeded", step=100))
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return str(path)


def test_wait_follows_the_events_without_polling(
    cli: Cli, server: Server, fake_time: FakeTime, tmp_path
) -> None:
    spec = scripted(server, tmp_path)
    server.on(
        "GET",
        "/v1/jobs/job_1/events",
        sse(
            ("status", job_view("job_1", "running", step=0)),
            ("progress", {"step": 50, "total": 100, "loss": 2.2}),
            ("status", job_view("job_1", "succeeded", step=100)),
        ),
    )
    done = cli("submit", spec, "--wait")
    assert done.exit_code == 0, done.output
    assert "vanishing" in done.stdout
    assert server.calls("GET", "/v1/jobs/job_1/events")[0].headers["accept"] == (
        "text/event-stream"
    )
    assert not server.calls("GET", "/v1/jobs/job_1") and fake_time.sleeps == []


def test_a_broken_stream_falls_back_to_polling(
    cli: Cli, server: Server, fake_time: FakeTime, tmp_path
) -> None:
    spec = scripted(server, tmp_path)
    server.on(
        "GET",
        "/v1/jobs/job_1",
        job_view("job_1", "running", step=5),
        job_view("job_1", "succeeded", step=100),
    )
    server.on("GET", "/v1/jobs/job_1/events", sse(("status", {"not": "a job"})))
    done = cli("submit", spec, "--wait", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["job"]["status"] == "succeeded"
    assert len(server.calls("GET", "/v1/jobs/job_1")) == 2 and fake_time.sleeps
