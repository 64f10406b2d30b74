"""POSTs in flight together are stored as one batch, and every rule still holds per job."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

import service.api.submit_batch as batch_module
from service.api.app import create_app
from service.settings import Settings
from service.store.db import session_scope
from service.store.models import IdempotencyKey, Job
from tests.service.conftest import make_settings, new_key, queued_messages

GOOD = {"model": {"type": "mlp", "depth": 2, "width": 8}, "train": {"steps": 10}}
BAD = {"model": {"type": "mlp", "depth": -1}}


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch stored. The first POST goes alone (`post_all`), and its batch
    is held until all the other POSTs of the test wait behind it, so that they form the
    second batch whatever the scheduling."""
    sizes: list[int] = []
    FIRST_HELD.clear()
    store_batch = batch_module.store_batch
    submit = batch_module.SubmitBatcher.submit
    waiting: list[batch_module.SubmitBatcher] = []

    async def seen(self: batch_module.SubmitBatcher, *args: Any) -> Any:
        waiting[:] = [self]
        return await submit(self, *args)

    def held(settings: Settings, celery: Any, batch: list[Any]) -> Any:
        if not sizes:
            FIRST_HELD.set()
            deadline = time.monotonic() + 10
            while len(batch) + len(waiting[0]._waiting) < EXPECTED[0]:
                assert time.monotonic() < deadline, "the POSTs did not all arrive"
                time.sleep(0.005)
        sizes.append(len(batch))
        return store_batch(settings, celery, batch)

    monkeypatch.setattr(batch_module.SubmitBatcher, "submit", seen)
    monkeypatch.setattr(batch_module, "store_batch", held)
    return sizes


EXPECTED = [0]  # how many POSTs the running test sends at once
FIRST_HELD = threading.Event()  # the first POST's batch is in the store (and held there)


async def post_all(
    app: FastAPI, key: str, bodies: list[dict[str, Any]], headers: list[dict[str, str]] | None
) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    auth = {"Authorization": f"Bearer {key}"}
    extra = headers or [{} for _ in bodies]
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        posts = [
            http.post("/v1/jobs", json=b, headers={**auth, **h})
            for b, h in zip(bodies, extra, strict=True)
        ]
        # The first alone, the others once its batch is taken: POSTs that arrive together
        # (they all wait for one lookup of the new key) would otherwise make one batch.
        first = asyncio.ensure_future(posts[0])
        deadline = time.monotonic() + 10
        while not FIRST_HELD.is_set() and not first.done():
            assert time.monotonic() < deadline, "the first POST was not stored"
            await asyncio.sleep(0.001)
        rest = asyncio.gather(*posts[1:])
        return [await first, *await rest]


def run(
    settings: Settings, bodies: list[dict[str, Any]], headers: list[dict[str, str]] | None = None
) -> list[httpx.Response]:
    EXPECTED[0] = len(bodies)
    key = new_key(settings, "alice")
    return asyncio.run(post_all(create_app(settings), key, bodies, headers))


def jobs(settings: Settings) -> list[Job]:
    with session_scope(settings.store_url) as session:
        return list(session.scalars(select(Job)))


def test_posts_sent_together_are_stored_together_each_with_its_answer(
    settings: Settings, home: Path, batches: list[int]
) -> None:
    answers = run(settings, [GOOD] * 12)
    assert [r.status_code for r in answers] == [202] * 12
    ids = [r.json()["id"] for r in answers]
    assert len(set(ids)) == 12
    assert sorted(ids) == sorted(j.id for j in jobs(settings))
    assert len(queued_messages(home)) == 12
    assert len(batches) == 2 and sum(batches) == 12  # the rest gathered behind the first


def test_a_bad_spec_in_a_batch_is_its_own_422(settings: Settings, batches: list[int]) -> None:
    answers = run(settings, [GOOD, BAD, GOOD, BAD, GOOD])
    assert [r.status_code for r in answers] == [202, 422, 202, 422, 202]
    assert answers[1].json()["errors"][0]["path"] == "$.model.depth"
    assert len(jobs(settings)) == 3


def test_the_active_job_limit_counts_the_batch(home: Path, batches: list[int]) -> None:
    settings = make_settings(home, max_active_jobs=3)
    answers = run(settings, [GOOD] * 6)
    codes = [r.status_code for r in answers]
    assert sorted(codes) == [202] * 3 + [429] * 3
    assert all(r.headers["retry-after"] for r in answers if r.status_code == 429)
    assert len(jobs(settings)) == 3


def test_one_key_twice_in_a_batch_is_one_job(settings: Settings, batches: list[int]) -> None:
    answers = run(settings, [GOOD] * 4, [{"Idempotency-Key": "k"}] * 2 + [{}] * 2)
    assert [r.status_code for r in answers] == [202] * 4
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers[:2]) == 1
    assert len(jobs(settings)) == 3
    with session_scope(settings.store_url) as session:
        assert len(list(session.scalars(select(IdempotencyKey)))) == 1


def test_jobs_the_broker_refuses_are_stored_for_the_sweeper(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(app: Any, job_id: str, queue: str, producer: Any = None) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("service.tasks.app.publish", refuse)
    answers = run(settings, [GOOD] * 3)
    assert [r.status_code for r in answers] == [202] * 3
    stored = jobs(settings)
    assert len(stored) == 3 and all(j.published_at is None for j in stored)
