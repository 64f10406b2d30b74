"""The Python client against the live service (API under uvicorn, a Celery worker, Redis,
PostgreSQL): the happy paths, each run with `Client` and with `AsyncClient` (the latter
behind `Blocking`, so that both run the same test bodies)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gradprobe.client import AsyncClient, AuthError, Client, PollPolicy, ValidationError
from tests.client.blocking import Blocking
from tests.integration.harness import Service
from tests.integration.specs import family_spec, long_spec

# Poll often, so that a few seconds of training show several steps.
FAST = PollPolicy(first=0.1, factor=1.3, cap=0.5)
# Several seconds of training even on an idle machine, so that polling sees several steps.
LIVE = {
    "name": "live",
    "model": {"type": "mlp", "depth": 6, "width": 64},
    "train": {"steps": 3000, "batch_size": 32, "device": "cpu"},
    "probe": {"every": 10},
}


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest) -> Iterator[Any]:
    """connect(service, key=None) -> a client of the service, sync or async (behind Blocking)."""
    runner = asyncio.Runner()
    made: list[Any] = []

    def make(service: Service, key: str | None = None) -> Any:
        if request.param == "sync":
            client: Any = Client(service.url, key or service.key, poll=FAST)
        else:
            client = Blocking(AsyncClient(service.url, key or service.key, poll=FAST), runner)
        made.append(client)
        return client

    yield make
    for client in made:
        if isinstance(client, Blocking):
            client.aclose()
        else:
            client.close()
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
    for job_id in more:
        gp.jobs.get(job_id).wait(timeout=120)
    assert {j.id for j in gp.jobs.list(status="succeeded")} == {*more, job.id}


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
