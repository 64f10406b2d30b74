"""Bearer keys, tenant isolation, the request rate, the concurrent-job limit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.auth import KeyCache
from service.settings import Settings
from service.store.db import session_scope
from service.store.keys import create_key, revoke_key

Headers = dict[str, str]
JOB_ROUTES = [
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/jobs/{id}/stats"),
    ("POST", "/v1/jobs/{id}/cancel"),
    ("DELETE", "/v1/jobs/{id}"),
]
V1_ROUTES = [
    ("POST", "/v1/jobs"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/specs/validate"),
    ("GET", "/v1/presets"),
    *JOB_ROUTES,
]


def wait_for(check: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline_s} s: {what}")
        time.sleep(0.05)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer gp_not-a-key", "Basic dXNlcjpwYXNz", "gp_no-scheme"],
)
def test_every_v1_route_wants_a_valid_key(
    client: TestClient, authorization: str | None, finished_job: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, route in V1_ROUTES:
        r = client.request(
            method, route.format(id=finished_job), json={"model": {"type": "mlp"}}, headers=headers
        )
        assert r.status_code == 401, (method, route)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:gradprobe:problem:unauthorized"


def test_a_revoked_key_stops_working_within_seconds(client: TestClient, settings: Settings) -> None:
    with session_scope(settings.store_url) as session:
        key = create_key(session, "soon-revoked")
    headers = {"Authorization": f"Bearer {key.secret}"}
    assert client.get("/v1/jobs", headers=headers).status_code == 200
    with session_scope(settings.store_url) as session:
        assert revoke_key(session, key.id)
    wait_for(
        lambda: client.get("/v1/jobs", headers=headers).status_code == 401,
        deadline_s=5.0,
        what="the revoked key is refused",
    )
    r = client.get("/v1/jobs", headers=headers)
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_a_key_is_answered_from_memory_only_within_its_ttl(settings: Settings) -> None:
    with session_scope(settings.store_url) as session:
        key = create_key(session, "remembered")
    keys = KeyCache(settings.store_url, ttl_s=0.2)
    assert keys.remembered(key.secret) is None  # never looked up: the store must answer
    assert keys.tenant(key.secret) == key.tenant_id
    assert keys.remembered(key.secret) == key.tenant_id
    time.sleep(0.3)
    assert keys.remembered(key.secret) is None
    assert keys.remembered("gp_not-a-key") is None


def test_requests_that_miss_together_share_one_lookup(settings: Settings) -> None:
    """When a busy key's answer expires, the requests waiting on it send one lookup to the
    store between them, not one each; the next lookup, after it, is a fresh one."""
    with session_scope(settings.store_url) as session:
        key = create_key(session, "busy")
    keys = KeyCache(settings.store_url)
    lookups = 0

    async def look_up() -> str | None:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.05)
        return keys.tenant(key.secret)

    async def together() -> list[str | None]:
        return await asyncio.gather(*(keys.shared(key.secret, look_up) for _ in range(20)))

    assert asyncio.run(together()) == [key.tenant_id] * 20 and lookups == 1
    assert asyncio.run(together()) == [key.tenant_id] * 20 and lookups == 2


def test_another_tenants_job_is_404_on_every_job_route(
    client: TestClient, alice: Headers, bob: Headers, finished_job: str
) -> None:
    for method, route in JOB_ROUTES:
        r = client.request(method, route.format(id=finished_job), headers=bob)
        assert r.status_code == 404, (method, route)
        assert r.json()["detail"] == f"no job {finished_job}"
    assert client.get("/v1/jobs", headers=bob).json()["items"] == []
    # ... and nothing bob tried changed it.
    view = client.get(f"/v1/jobs/{finished_job}", headers=alice).json()
    assert view["status"] == "succeeded"
    assert client.get(f"/v1/jobs/{finished_job}/stats", headers=alice).status_code == 200


def test_keys_never_reach_the_logs(
    client: TestClient, alice: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = alice["Authorization"].removeprefix("Bearer ")
    client.post("/v1/jobs", json={"model": {"type": "mlp"}}, headers=alice)
    client.get("/v1/jobs", headers={"Authorization": "Bearer gp_wrong-secret-123"})
    assert caplog.records  # the requests did log something
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in text and "gp_wrong-secret-123" not in text


def test_the_request_rate_is_limited_per_tenant(
    home: Path,
    make_settings: Callable[..., Settings],
    new_key: Callable[[Settings, str], str],
) -> None:
    s = make_settings(home, rate_per_s=0.01, rate_burst=3)
    a = {"Authorization": f"Bearer {new_key(s, 'a')}"}
    b = {"Authorization": f"Bearer {new_key(s, 'b')}"}
    with TestClient(create_app(s)) as c:
        assert [c.get("/v1/jobs", headers=a).status_code for _ in range(3)] == [200] * 3
        r = c.get("/v1/jobs", headers=a)
        assert r.status_code == 429
        assert r.json()["type"] == "urn:gradprobe:problem:rate-limited"
        assert 1 <= int(r.headers["retry-after"]) <= 100  # one token at 0.01/s
        assert c.get("/v1/jobs", headers=b).status_code == 200  # another tenant's own bucket
        assert c.get("/healthz").status_code == 200  # unauthenticated routes are not counted


def test_concurrent_jobs_are_limited_per_tenant(
    home: Path,
    make_settings: Callable[..., Settings],
    new_key: Callable[[Settings, str], str],
) -> None:
    s = make_settings(home, max_active_jobs=2)
    a = {"Authorization": f"Bearer {new_key(s, 'a')}"}
    b = {"Authorization": f"Bearer {new_key(s, 'b')}"}
    spec = {"model": {"type": "mlp", "depth": 2}}
    with TestClient(create_app(s)) as c:
        keyed = [{**a, "Idempotency-Key": f"k{i}"} for i in range(2)]
        ids = [c.post("/v1/jobs", json=spec, headers=h).json()["id"] for h in keyed]
        r = c.post("/v1/jobs", json=spec, headers=a)
        assert r.status_code == 429
        assert r.json()["type"] == "urn:gradprobe:problem:too-many-active-jobs"
        assert int(r.headers["retry-after"]) > 0
        assert c.post("/v1/jobs", json=spec, headers=b).status_code == 202
        # A replay creates nothing, so it is answered at the limit too.
        replay = c.post("/v1/jobs", json=spec, headers=keyed[0])
        assert replay.status_code == 202 and replay.json()["id"] == ids[0]
        # A finished job frees its place.
        assert c.post(f"/v1/jobs/{ids[0]}/cancel", headers=a).status_code == 202
        assert c.post("/v1/jobs", json=spec, headers=a).status_code == 202
        assert c.post("/v1/jobs", json=spec, headers=a).status_code == 429
