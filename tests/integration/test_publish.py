"""A batch of jobs goes to a real Redis through one producer batch, as Celery messages."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.settings import Settings
from service.store.db import engine_for, session_scope
from service.store.jobs import active_counts, add_job
from service.store.keys import create_key
from service.store.migrate import upgrade
from service.tasks.app import TASK, make_app, publish, publish_many
from service.tasks.redis_messages import message
from tests.integration.harness import Postgres, Redis, Service
from tests.service.test_store import assert_active_count_follows_the_jobs, assert_inserted_as_added


def test_a_batch_lands_in_its_queues_as_celery_messages(
    tmp_path: Path, redis_server: Redis
) -> None:
    app = make_app(Settings(home=tmp_path, broker_url=redis_server.url))
    jobs = [(f"job_{i}", "gpu" if i % 2 else "cpu") for i in range(6)]
    client = redis.Redis(port=redis_server.port)
    before = client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0)
    assert publish_many(app, jobs) == []
    assert redis_server.llen("cpu") == 3 and redis_server.llen("gpu") == 3
    assert client.info("commandstats")["cmdstat_lpush"]["calls"] - before == 2  # per queue
    raw = client.lrange("cpu", 0, -1)
    messages = [json.loads(m) for m in raw]
    # A worker takes from the right: in the order they were published.
    assert [m["headers"]["id"] for m in reversed(messages)] == ["job_0", "job_2", "job_4"]
    assert all(m["headers"]["task"] == TASK for m in messages)
    args = [json.loads(base64.b64decode(m["body"]))[0] for m in messages]
    assert sorted(args) == [["job_0"], ["job_2"], ["job_4"]]


def test_the_messages_are_those_celery_sends(tmp_path: Path, redis_server: Redis) -> None:
    """Field by field, what redis_messages pushes is what Celery's own send_task pushes (but
    for the delivery tag, the reply queue's name and the sender, which are per producer)."""
    app = make_app(Settings(home=tmp_path, broker_url=redis_server.url))
    publish(app, "job_celery", "gpu")  # Celery's path
    client = redis.Redis(port=redis_server.port)
    sent = json.loads(client.lpop("gpu") or b"")
    ours = message(TASK, "job_celery", "gpu")
    per_producer = {"delivery_tag", "reply_to"}
    assert sent.keys() == ours.keys() and sent["body"] == ours["body"]
    assert {k: v for k, v in sent["headers"].items() if k != "origin"} == {
        k: v for k, v in ours["headers"].items() if k != "origin"
    }
    assert {k: v for k, v in sent["properties"].items() if k not in per_producer} == {
        k: v for k, v in ours["properties"].items() if k not in per_producer
    }
    assert sent["headers"].keys() == ours["headers"].keys()
    assert sent["properties"].keys() == ours["properties"].keys()
    assert {k: sent[k] for k in ("content-type", "content-encoding")} == {
        k: ours[k] for k in ("content-type", "content-encoding")
    }


def test_a_broker_that_is_down_leaves_every_job_of_the_batch_unpublished(
    tmp_path: Path, redis_server: Redis
) -> None:
    url = redis_server.url
    redis_server.stop()
    app = make_app(Settings(home=tmp_path, broker_url=url))
    jobs = [("job_a", "cpu"), ("job_b", "gpu")]
    assert publish_many(app, jobs) == ["job_a", "job_b"]


def test_a_submit_counting_active_jobs_holds_the_tenant_until_it_commits(
    postgres: Postgres,
) -> None:
    """Two submits of one tenant: the second cannot count until the first has committed
    its jobs, so both cannot pass the active-job limit on the same count."""
    url = postgres.new_database()
    upgrade(url)
    with session_scope(url) as session:
        tenant = create_key(session, "t").tenant_id
    with Session(engine_for(url)) as first:
        assert active_counts(first, {tenant}) == {tenant: 0}
        add_job(first, tenant, {}, 10, "cpu")
        with Session(engine_for(url)) as second:
            second.execute(text("SET lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock"):
                active_counts(second, {tenant})
        first.commit()
    with Session(engine_for(url)) as second:
        assert active_counts(second, {tenant}) == {tenant: 1}
    engine_for(url).dispose()


def test_concurrent_posts_never_pass_the_active_job_limit(service: Service) -> None:
    """Many POSTs at once, in several batches in flight together: exactly the limit is
    accepted (the tenant's row is locked while a batch counts and inserts)."""
    service.env["GRADPROBE_MAX_ACTIVE_JOBS"] = "5"
    service.start_api()
    spec = {"model": {"type": "mlp", "depth": 2, "width": 8}, "train": {"steps": 10}}

    def post(_: int) -> int:
        with service.client() as http:
            return http.post("/v1/jobs", json=spec).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(post, range(40)))
    assert sorted(codes) == [202] * 5 + [429] * 35
    with service.client() as http:
        assert len(http.get("/v1/jobs", params={"limit": 100}).json()["items"]) == 5


def on_a_fresh_postgresql(postgres: Postgres, check: Callable[[str, str], None]) -> None:
    """`check(url, tenant)` on a new migrated database with one tenant."""
    url = postgres.new_database()
    upgrade(url)
    with session_scope(url) as session:
        tenant = create_key(session, "t").tenant_id
    check(url, tenant)
    engine_for(url).dispose()


def test_a_job_inserted_by_a_batch_is_the_row_add_job_writes_on_postgresql(
    postgres: Postgres,
) -> None:
    on_a_fresh_postgresql(postgres, assert_inserted_as_added)


def test_the_active_job_count_follows_the_jobs_on_postgresql(postgres: Postgres) -> None:
    on_a_fresh_postgresql(postgres, assert_active_count_follows_the_jobs)
