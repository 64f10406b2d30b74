"""A batch of jobs into Redis as the messages Celery would send, without Celery's per-message
work.

`app.send_task` costs ~0.45 ms of CPU per job (routing, the protocol-v2 headers, kombu's
envelope and its serialisers): a third of a POST's whole cost. A job's message is always the
same but for its id, so here it is written out once as Celery 5 and kombu's Redis transport
lay it out (Celery's "Message Protocol, version 2" inside kombu's virtual-transport envelope,
pushed with LPUSH on the queue's list), and a batch is one pipelined round trip.
tests/integration/test_publish.py compares these messages field by field with what Celery's
own `send_task` puts in Redis, and every integration test runs its jobs through real workers
that consume them.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import redis

REDIS_SCHEMES = ("redis://", "rediss://")
ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"
REPLY_TO = str(uuid.uuid4())  # the producer's reply queue name: unused (results are ignored)


def is_redis(broker_url: str) -> bool:
    return broker_url.startswith(REDIS_SCHEMES)


@lru_cache(maxsize=4)
def _client(broker_url: str) -> redis.Redis:
    return redis.Redis.from_url(broker_url, socket_timeout=5, socket_connect_timeout=5)


def message(task: str, job_id: str, queue: str) -> dict[str, Any]:
    """The Redis message of one `send_task(task, args=[job_id], task_id=job_id, queue=queue)`."""
    body = [[job_id], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    headers: dict[str, Any] = {
        "lang": "py",
        "task": task,
        "id": job_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": job_id,
        "parent_id": None,
        "argsrepr": repr([job_id]),
        "kwargsrepr": "{}",
        "origin": ORIGIN,
        "ignore_result": None,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    return {
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": job_id,
            "reply_to": REPLY_TO,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }


def push(broker_url: str, task: str, jobs: Sequence[tuple[str, str]]) -> None:
    """LPUSH each (job id, queue)'s message onto its queue, in one pipelined round trip: one
    LPUSH per queue with its messages in order (`LPUSH q a b` is `LPUSH q a` then
    `LPUSH q b`), so that Redis parses one command per queue, not one per job."""
    by_queue: dict[str, list[str]] = {}
    for job_id, queue in jobs:
        by_queue.setdefault(queue, []).append(json.dumps(message(task, job_id, queue)))
    pipe = _client(broker_url).pipeline(transaction=False)
    for queue, messages in by_queue.items():
        pipe.lpush(queue, *messages)
    pipe.execute()
