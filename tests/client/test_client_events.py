"""Waiting on a job live: `Job.wait()` follows GET /v1/jobs/{id}/events (status, progress,
keep-alives) and polls when the server has no stream, sends something else, or the stream
breaks or stays silent; the deadline, the progress callback and `JobFailed` / `WaitTimeout`
are the same either way. Each test runs with `Client` and `AsyncClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from gradprobe.client import JobFailed, NotFound, WaitTimeout
from gradprobe.client._sse import IDLE_S, KEEPALIVE, Event, Parser
from tests.client.conftest import FakeTime, Server
from tests.client.factories import job_view, problem, sse

JOB = "/v1/jobs/job_1"
EVENTS = "/v1/jobs/job_1/events"
SEEN = list[tuple[str, int]]


def watch(seen: SEEN) -> Any:
    return lambda job: seen.append((job.status, job.progress.step))


class Scripted(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that sends `chunks`, moving `time` on by `tick` s before each, and
    then raises `error` (a connection reset, a read timeout), if given."""

    def __init__(
        self,
        chunks: list[bytes],
        time: FakeTime | None = None,
        tick: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.chunks, self.time, self.tick, self.error = chunks, time, tick, error

    def _next(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if self.time is not None:
                self.time.now += self.tick
            yield chunk
        if self.error is not None:
            raise self.error

    def __iter__(self) -> Iterator[bytes]:
        yield from self._next()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._next():
            yield chunk


def streamed(body: Scripted) -> Any:
    headers = {"content-type": "text/event-stream"}
    return lambda request: httpx.Response(200, headers=headers, stream=body)


def test_the_parser_reads_events_ids_and_comments() -> None:
    parser = Parser()
    lines = [": hi", "", "id: 7", "event: status", 'data: {"a":', "data: 1}", "", 'data: "x"', ""]
    assert [e for line in lines if (e := parser.feed(line)) is not None] == [
        KEEPALIVE,
        Event("status", {"a": 1}, "7"),
        Event("message", "x"),
    ]


def test_wait_follows_the_events_without_polling(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on("GET", JOB, job_view(status="queued"))
    server.on(
        "GET",
        EVENTS,
        sse(
            ("status", job_view(status="queued")),
            ("status", job_view(status="running", step=0)),
            ("progress", {"step": 40, "total": 100, "loss": 2.0, "norms": None}),
            ("progress", {"step": 80, "total": 100, "loss": 1.5}),
            ("status", job_view(status="succeeded", step=100, loss=1.0)),
        ),
    )
    seen: SEEN = []
    job = client.jobs.get("job_1").wait(timeout=600, progress=watch(seen))
    assert job.status == "succeeded" and job.summary.verdict == "vanishing"
    steps = [("running", 0), ("running", 40), ("running", 80)]
    assert seen == [("queued", 0), *steps, ("succeeded", 100)]
    assert job.progress.loss == 1.0
    assert len(server.calls("GET", JOB)) == 1 and fake_time.sleeps == []  # no poll
    (request,) = server.calls("GET", EVENTS)
    assert request.headers["accept"] == "text/event-stream"
    assert request.extensions["timeout"]["read"] == IDLE_S  # a silent proxy is noticed


def test_a_failed_job_on_the_stream_raises_with_the_servers_error(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    error = {"type": "time_limit", "message": "the job ran past its soft time limit (2 s)"}
    server.on("GET", JOB, job_view(status="running"))
    server.on("GET", EVENTS, sse(("status", job_view(status="failed", error=error))))
    with pytest.raises(JobFailed) as caught:
        client.jobs.get("job_1").wait()
    assert caught.value.error is not None and caught.value.error.type == "time_limit"
    assert fake_time.sleeps == []


UNAVAILABLE = {
    "404": httpx.Response(404, json={"title": "Not Found", "status": 404}),
    "405": problem(405, "method-not-allowed", "no"),
    "501": httpx.Response(501, text="not implemented"),
    "a proxy's page": httpx.Response(200, text="<html>hi</html>"),
}


@pytest.mark.parametrize("answer", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_without_a_stream_it_polls(
    client: Any, server: Server, fake_time: FakeTime, answer: httpx.Response
) -> None:
    server.on("GET", EVENTS, answer)
    server.on(
        "GET",
        JOB,
        job_view(status="queued"),
        job_view(status="running", step=10),
        job_view(status="succeeded", step=100),
    )
    seen: SEEN = []
    assert client.jobs.get("job_1").wait(progress=watch(seen)).status == "succeeded"
    assert seen == [("queued", 0), ("running", 10), ("succeeded", 100)]
    assert fake_time.sleeps == pytest.approx([0.5, 0.75])
    assert len(server.calls("GET", EVENTS)) == 1  # asked once, not at each poll


BREAKS = {
    "reset mid-way": httpx.RemoteProtocolError("peer closed connection"),
    "silent (a proxy that buffers)": httpx.ReadTimeout("timed out"),
}


@pytest.mark.parametrize("error", BREAKS.values(), ids=BREAKS.keys())
def test_a_stream_that_breaks_falls_back_to_polling(
    client: Any, server: Server, fake_time: FakeTime, error: Exception
) -> None:
    first = b"event: progress\ndata: " + b'{"step": 30, "total": 100, "loss": 2.0}\n\n'
    server.on("GET", EVENTS, streamed(Scripted([b": keep-alive\n\n", first], error=error)))
    server.on(
        "GET",
        JOB,
        job_view(status="running", step=10),
        job_view(status="running", step=60),
        job_view(status="succeeded", step=100),
    )
    seen: SEEN = []
    assert client.jobs.get("job_1").wait(progress=watch(seen)).status == "succeeded"
    assert seen == [("running", 10), ("running", 30), ("running", 60), ("succeeded", 100)]
    assert len(fake_time.sleeps) == 2


def test_a_stream_that_ends_early_falls_back_to_polling(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on("GET", EVENTS, sse(("deleted", {"id": "job_1"})))
    server.on("GET", JOB, job_view(status="running"), problem(404, "job-not-found", "no job"))
    with pytest.raises(NotFound) as caught:
        client.jobs.get("job_1").wait()
    assert caught.value.status == 404  # the poll has the last word


def test_the_deadline_holds_on_a_quiet_stream(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    # Keep-alives 4 s apart and a 10 s wait: each stream is left when its next read could end
    # more than a second past the deadline, and opened again with the time left.
    def quiet(request: httpx.Request) -> httpx.Response:
        body = Scripted([b": keep-alive\n\n"] * 5, fake_time, tick=4.0)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    server.on("GET", EVENTS, quiet)
    server.on("GET", JOB, job_view(status="running", step=5))
    start = fake_time.now
    with pytest.raises(WaitTimeout) as caught:
        client.jobs.get("job_1").wait(timeout=10)
    assert caught.value.timeout == 10 and caught.value.job.status == "running"
    reads = [r.extensions["timeout"]["read"] for r in server.calls("GET", EVENTS)]
    assert reads == [10.0, 6.0, 2.0]
    # The last stream's read timeout is the 2 s left (here its keep-alive comes 4 s later).
    assert fake_time.now - start == pytest.approx(12.0)
    assert len(server.calls("GET", JOB)) == 1 and fake_time.sleeps == []


def test_jobs_events_yields_the_parsed_events(client: Any, server: Server) -> None:
    server.on(
        "GET",
        EVENTS,
        sse(
            ("status", job_view(status="running")),
            ("progress", {"step": 50, "total": 100, "loss": 1.0}),
        ),
    )
    events = list(client.jobs.events("job_1"))
    assert [e.kind for e in events] == ["status", "progress"]  # no keep-alive
    assert events[0].data["status"] == "running" and events[1].data["step"] == 50
    assert events[1].id == "1"


def test_jobs_events_raises_the_servers_error(client: Any, server: Server) -> None:
    server.on("GET", EVENTS, problem(404, "job-not-found", "no job job_1"))
    with pytest.raises(NotFound) as caught:
        list(client.jobs.events("job_1"))
    assert "no job job_1" in str(caught.value)
