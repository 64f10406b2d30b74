"""The Python client against the live service (API under uvicorn, a Celery worker, Redis,
PostgreSQL): the happy paths, each run with `Client` and with `AsyncClient` (the latter
behind `Blocking`, so that both run the same test bodies). Every request a client sends is
recorded, so that a test can tell a wait that followed the events from one that polled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gradprobe.client import (
    AsyncClient,
    AuthError,
    Client,
    Conflict,
    PollPolicy,
    ValidationError,
)
from tests.client.blocking import Blocking
from tests.integration.harness import Service
from tests.integration.specs import TRAIN, family_spec, long_spec, small_study

# Poll often, so that a few seconds of training show several steps.
FAST = PollPolicy(first=0.1, factor=1.3, cap=0.5)
# Several seconds of training even on an idle machine, so that polling sees several steps.
LIVE = {
    "name": "live",
    "model": {"type": "mlp", "depth": 6, "width": 64},
    "train": {"steps": 3000, "batch_size": 32, "device": "cpu"},
    "probe": {"every": 10},
}


Sent = list[tuple[str, str]]  # (method, path) of each request, in order


def no_events(request: httpx.Request) -> httpx.Response | None:
    """The answer of a server without the events routes (an older one), else None."""
    if request.url.path.endswith("/events"):
        return httpx.Response(404, json={"title": "Not Found", "status": 404})
    return None


class Recording(httpx.HTTPTransport):
    def __init__(self, sent: Sent, events: bool) -> None:
        super().__init__()
        self.sent, self.events = sent, events

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return (not self.events and no_events(request)) or super().handle_request(request)


class AsyncRecording(httpx.AsyncHTTPTransport):
    def __init__(self, sent: Sent, events: bool) -> None:
        super().__init__()
        self.sent, self.events = sent, events

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        refused = not self.events and no_events(request)
        return refused or await super().handle_async_request(request)


ORDER = ["queued", "running", "succeeded"]


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest) -> Iterator[Any]:
    """connect(service, key=None, events=True) -> a client of the service, sync or async
    (behind Blocking), whose requests are listed in its `.sent`; with events=False the
    events routes answer 404, as on a server without them."""
    runner = asyncio.Runner()
    made: list[Any] = []

    def make(service: Service, key: str | None = None, events: bool = True) -> Any:
        sent: Sent = []
        key = key or service.key
        if request.param == "sync":
            http: Any = httpx.Client(transport=Recording(sent, events))
            client: Any = Client(service.url, key, poll=FAST, http_client=http)
        else:
            http = httpx.AsyncClient(transport=AsyncRecording(sent, events))
            client = Blocking(AsyncClient(service.url, key, poll=FAST, http_client=http), runner)
        client.sent = sent
        made.append(http)
        return client

    yield make
    for http in made:
        if isinstance(http, httpx.AsyncClient):
            runner.run(http.aclose())
        else:
            http.close()
    runner.close()


def started(service: Service) -> Service:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    return service


def test_create_wait_stats_and_list(service: Service, connect: Any) -> None:
    gp = connect(started(service))
    job = gp.jobs.create(LIVE)
    assert job.status == "queued" and job.progress.total == 3000

    seen: list[tuple[str, int]] = []
    done = job.wait(timeout=180, progress=lambda j: seen.append((j.status, j.progress.step)))
    assert done.status == "succeeded" and done.summary is not None and done.summary.verdict
    steps = [step for _, step in seen]
    assert steps == sorted(steps) and seen[-1] == ("succeeded", 3000)
    assert len({s for status, s in seen if status == "running"}) >= 2, seen
    # It followed the job's events: one stream, not one poll.
    assert gp.sent.count(("GET", f"/v1/jobs/{job.id}/events")) == 1
    assert ("GET", f"/v1/jobs/{job.id}") not in gp.sent

    stats = job.stats()
    with service.client() as http:
        doc = http.get(f"/v1/jobs/{job.id}/stats").json()
    names = [la["name"] for la in doc["layers"]]
    column = names.index("h3.linear")
    expected = [row[column] for row in doc["metrics"]["weight_grad_norm"]]
    assert stats.layer("h3").weight_grad_norm == expected
    assert stats.layer("h3.linear").weight_grad_norm == expected
    assert stats.steps == doc["steps"] and stats.layers == names
    assert stats.summary.verdict == done.summary.verdict

    narrow = job.stats(layers=["h3.linear"], metrics="weight_grad_norm", max_points=3)
    assert narrow.layers == ["h3.linear"] and len(narrow.steps) == 3
    at_kept_steps = [expected[doc["steps"].index(step)] for step in narrow.steps]
    assert narrow.layer("h3.linear").weight_grad_norm == at_kept_steps

    # The same Idempotency-Key and body: the same job, not a second one.
    small = family_spec("mlp")
    first = gp.jobs.create(small, idempotency_key="live-1")
    assert gp.jobs.create(small, idempotency_key="live-1").id == first.id
    more = [first.id] + [gp.jobs.create({**small, "name": f"m{i}"}).id for i in range(3)]

    listed = [j.id for j in gp.jobs.list(page_size=2)]
    assert listed == [*reversed(more), job.id]  # newest first, across three pages
    assert [j.id for j in gp.jobs.list(limit=3, page_size=2)] == listed[:3]
    # Where the server has no events, the same waits poll.
    older = connect(service, events=False)
    for job_id in more:
        polled = older.jobs.get(job_id).wait(timeout=120)
        assert polled.status == "succeeded" and polled.summary is not None
    assert {j.id for j in gp.jobs.list(status="succeeded")} == {*more, job.id}
    # A job still to run when the wait starts (a small one may already be over, and a wait
    # on a finished job needs neither events nor polls): events tried once, then polls.
    last = older.jobs.create(LIVE)
    assert last.wait(timeout=180).status == "succeeded"
    assert older.sent.count(("GET", f"/v1/jobs/{last.id}/events")) == 1
    assert older.sent.count(("GET", f"/v1/jobs/{last.id}")) >= 1


def test_job_events_run_from_queued_to_the_end(service: Service, connect: Any) -> None:
    gp = connect(started(service))
    job = gp.jobs.create({**LIVE, "train": {**LIVE["train"], "steps": 1000}})
    events = list(gp.jobs.events(job.id))  # ends when the job has
    statuses = [e.data["status"] for e in events if e.kind == "status"]
    assert statuses[-1] == "succeeded" and statuses == sorted(statuses, key=ORDER.index)
    assert "running" in statuses and len(statuses) == len(set(statuses))
    steps = [e.data["step"] for e in events if e.kind == "progress"]
    assert steps == sorted(steps) and len(set(steps)) >= 2 and steps[-1] == 1000
    assert gp.jobs.get(job.id).status == "succeeded"


def test_a_study_created_waited_listed_and_plotted(service: Service, connect: Any) -> None:
    gp = connect(started(service))
    study = gp.studies.create(small_study())
    assert study.status == "queued" and [c.variant for c in study.cells] == ["bn", "plain"]
    seen: list[Any] = []
    done = gp.studies.wait(study.id, timeout=240, progress=seen.append)
    assert done.status == "succeeded" and [r.variant for r in done.table] == ["bn", "plain"]
    assert all(r.verdict and r.step_ms and r.step_ms > 0 for r in done.table)
    assert seen[-1].status == "succeeded" and len(seen) >= 3
    steps = [sum(c.progress.step for c in view.cells) for view in seen]
    assert steps == sorted(steps) and steps[-1] == 2 * TRAIN["steps"]
    assert gp.sent.count(("GET", f"/v1/studies/{study.id}/events")) == 1

    assert gp.studies.plot(study.id).startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in gp.studies.plot(study.id, "svg")[:1000]
    assert [s.id for s in gp.studies.list()] == [study.id]
    assert gp.studies.get(study.id).table == done.table
    with pytest.raises(Conflict):
        gp.studies.cancel(study.id)  # every cell has ended


def test_validate_presets_cancel_and_auth(service: Service, connect: Any) -> None:
    gp = connect(started(service))
    plan = gp.specs.validate(family_spec("mlp"))
    assert plan.params > 0 and plan.layers[0].name == "h1.linear"
    with pytest.raises(ValidationError) as caught:
        gp.specs.validate({"model": {"type": "mlp", "depth": 0}})
    assert "$.model.depth" in caught.value.paths and caught.value.status == 422

    presets = gp.presets.list().items
    assert {p.kind for p in presets} == {"spec", "study"}
    assert all(p.spec["model"]["type"] for p in presets if p.kind == "spec")

    # Cancelled while queued or just started: either way it ends cancelled, long before its end.
    job = gp.jobs.create(long_spec())
    assert job.cancel().id == job.id and (job.status == "cancelled" or job.view.cancel_requested)
    assert job.wait(timeout=60).status == "cancelled"
    assert job.progress.step < 100_000

    with pytest.raises(AuthError) as denied:
        connect(service, key="gp_not_a_key").jobs.get(job.id)
    assert denied.value.status == 401
