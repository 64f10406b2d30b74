"""A batch of jobs goes to a real Redis through one producer batch, as Celery messages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import redis

from service.settings import Settings
from service.tasks.app import TASK, make_app, publish_many
from tests.integration.harness import Redis


def test_a_batch_lands_in_its_queues_as_celery_messages(
    tmp_path: Path, redis_server: Redis
) -> None:
    app = make_app(Settings(home=tmp_path, broker_url=redis_server.url))
    jobs = [(f"job_{i}", "gpu" if i % 2 else "cpu") for i in range(6)]
    client = redis.Redis(port=redis_server.port)
    before = client.info("commandstats").get("cmdstat_lpush", {}).get("calls", 0)
    assert publish_many(app, jobs) == []
    assert redis_server.llen("cpu") == 3 and redis_server.llen("gpu") == 3
    assert client.info("commandstats")["cmdstat_lpush"]["calls"] - before == 6
    raw = client.lrange("cpu", 0, -1)
    messages = [json.loads(m) for m in raw]
    assert {m["headers"]["id"] for m in messages} == {"job_0", "job_2", "job_4"}
    assert all(m["headers"]["task"] == TASK for m in messages)
    args = [json.loads(base64.b64decode(m["body"]))[0] for m in messages]
    assert sorted(args) == [["job_0"], ["job_2"], ["job_4"]]


def test_a_broker_that_is_down_leaves_every_job_of_the_batch_unpublished(
    tmp_path: Path, redis_server: Redis
) -> None:
    url = redis_server.url
    redis_server.stop()
    app = make_app(Settings(home=tmp_path, broker_url=url))
    jobs = [("job_a", "cpu"), ("job_b", "gpu")]
    assert publish_many(app, jobs) == ["job_a", "job_b"]
