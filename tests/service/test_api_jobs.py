"""POST/GET/DELETE /v1/jobs and cancel: through the app, against the real store and broker."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.api.app import create_app
from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import add_job, get_job
from service.store.models import Job

Submit = Callable[..., dict[str, Any]]
Headers = dict[str, str]


def count_jobs(settings: Settings) -> int:
    with session_scope(settings.store_url) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def test_submit_stores_publishes_and_answers_202(
    client: TestClient, alice: Headers, settings: Settings, queued: Callable[[], list[str]]
) -> None:
    r = client.post("/v1/jobs", json={"model": {"type": "mlp", "depth": 3}}, headers=alice)
    assert r.status_code == 202
    view = r.json()
    assert r.headers["location"] == f"/v1/jobs/{view['id']}"
    assert view["status"] == "queued" and view["queue"] == "cpu" and view["attempts"] == 0
    assert view["progress"] == {"step": 0, "total": 200, "loss": None}
    assert view["links"]["stats"] == f"/v1/jobs/{view['id']}/stats"
    messages = queued()
    assert len(messages) == 1 and view["id"] in messages[0]
    with session_scope(settings.store_url) as session:
        job = get_job(session, view["id"])
        assert job is not None and job.published_at is not None
        assert job.spec["train"]["steps"] == 200  # stored with every default filled in
        assert job.spec["model"]["width"] == 256


def test_the_device_picks_the_queue(client: TestClient, alice: Headers) -> None:
    def queue(device: str) -> str:
        spec = {"model": {"type": "mlp", "depth": 2}, "train": {"device": device}}
        r = client.post("/v1/jobs", json=spec, headers=alice)
        assert r.status_code == 202
        return str(r.json()["queue"])

    assert (queue("cuda"), queue("cpu"), queue("auto")) == ("gpu", "cpu", "cpu")


def test_auto_device_goes_to_the_default_queue(
    home: Path, make_settings: Callable[..., Settings], new_key: Callable[[Settings, str], str]
) -> None:
    s = make_settings(home, default_queue="gpu")
    with TestClient(create_app(s)) as c:
        r = c.post(
            "/v1/jobs",
            json={"model": {"type": "mlp"}},
            headers={"Authorization": f"Bearer {new_key(s, 'k')}"},
        )
    assert r.status_code == 202 and r.json()["queue"] == "gpu"


def test_a_bad_spec_is_422_naming_the_field_and_nothing_is_queued(
    client: TestClient, alice: Headers, settings: Settings, queued: Callable[[], list[str]]
) -> None:
    bad = {"model": {"type": "mlp", "depth": -1, "activation": "nope"}, "train": {"steps": "x"}}
    r = client.post("/v1/jobs", json=bad, headers=alice)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422 and problem["instance"] == "/v1/jobs"
    assert problem["type"] == "urn:gradprobe:problem:invalid-spec"
    paths = {e["path"] for e in problem["errors"]}
    assert paths == {"$.model.depth", "$.model.activation", "$.train.steps"}
    assert all(e["message"] and e["type"] for e in problem["errors"])
    assert count_jobs(settings) == 0 and queued() == []


def test_an_unknown_family_names_the_type_field(client: TestClient, alice: Headers) -> None:
    r = client.post("/v1/jobs", json={"model": {"type": "mlpp"}}, headers=alice)
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["$.model.type"]


def test_caps_are_checked_at_submit(
    home: Path, make_settings: Callable[..., Settings], new_key: Callable[[Settings, str], str]
) -> None:
    s = make_settings(home, max_steps=100, max_parameters=10_000)
    spec = {"model": {"type": "mlp", "depth": 4, "width": 256}, "train": {"steps": 101}}
    with TestClient(create_app(s)) as c:
        r = c.post("/v1/jobs", json=spec, headers={"Authorization": f"Bearer {new_key(s, 'k')}"})
    assert r.status_code == 422
    errors = {e["path"]: e for e in r.json()["errors"]}
    assert set(errors) == {"$.model", "$.train.steps"}
    assert errors["$.train.steps"]["type"] == "cap_exceeded"
    assert "over the cap of 100" in errors["$.train.steps"]["message"]
    assert count_jobs(s) == 0


def test_malformed_bodies_are_422_never_500(
    client: TestClient, alice: Headers, settings: Settings
) -> None:
    bodies = [
        b'{"model": {"type": "mlp",}',  # not JSON
        b"",  # empty
        b"\xff\xfe{}",  # not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # nested past any parser's stack
        b'[{"model": {"type": "mlp"}}]',  # JSON, but not an object
        b'"text"',
        b"null",
    ]
    headers = {**alice, "content-type": "application/json"}
    for body in bodies:
        for url in ("/v1/jobs", "/v1/specs/validate"):
            r = client.post(url, content=body, headers=headers)
            assert r.status_code == 422, (body[:20], r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["errors"][0]["path"] == "$"
    assert count_jobs(settings) == 0


def test_idempotency_key_replays_the_same_job(
    client: TestClient, alice: Headers, queued: Callable[[], list[str]]
) -> None:
    headers = {**alice, "Idempotency-Key": "order-1"}
    body = {"model": {"type": "mlp", "depth": 3}, "name": "a"}
    first = client.post("/v1/jobs", json=body, headers=headers)
    # The same document with other key order and spacing is the same body.
    same = json.dumps({"name": "a", "model": {"depth": 3, "type": "mlp"}}, indent=2)
    again = client.post(
        "/v1/jobs", content=same, headers={**headers, "content-type": "application/json"}
    )
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"]
    assert len(queued()) == 1  # published once
    other = client.post("/v1/jobs", json={**body, "name": "b"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:gradprobe:problem:idempotency-key-reused"
    assert other.json()["errors"][0]["path"] == "header.idempotency-key"
    fresh = client.post("/v1/jobs", json=body, headers={**alice, "Idempotency-Key": "order-2"})
    assert fresh.status_code == 202 and fresh.json()["id"] != first.json()["id"]


def test_idempotency_keys_are_per_tenant(client: TestClient, alice: Headers, bob: Headers) -> None:
    body = {"model": {"type": "mlp", "depth": 3}}
    a = client.post("/v1/jobs", json=body, headers={**alice, "Idempotency-Key": "k"})
    b = client.post("/v1/jobs", json=body, headers={**bob, "Idempotency-Key": "k"})
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"] and "idempotent-replayed" not in b.headers


def test_an_overlong_idempotency_key_is_422(client: TestClient, alice: Headers) -> None:
    r = client.post(
        "/v1/jobs", json={"model": {"type": "mlp"}}, headers={**alice, "Idempotency-Key": "k" * 256}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "header.idempotency-key"


def test_a_broker_that_refuses_leaves_the_job_for_the_sweeper(
    client: TestClient, alice: Headers, home: Path, settings: Settings
) -> None:
    queue = home / "broker" / "queue"
    shutil.rmtree(queue)
    queue.write_text("not a folder: every publish fails")
    r = client.post("/v1/jobs", json={"model": {"type": "mlp"}}, headers=alice)
    assert r.status_code == 202  # stored durably: a worker's sweeper will publish it
    with session_scope(settings.store_url) as session:
        job = get_job(session, r.json()["id"])
        assert job is not None and job.status == "queued" and job.published_at is None


def test_get_shows_the_job(
    client: TestClient,
    alice: Headers,
    submit: Submit,
    settings: Settings,
    result_document: bytes,
    store_result: Callable[[Settings, str, bytes], None],
    spec: dict[str, Any],
) -> None:
    job_id = submit(spec)["id"]
    view = client.get(f"/v1/jobs/{job_id}", headers=alice).json()
    assert view["status"] == "queued" and view["summary"] is None and view["name"] == "tiny-rnn"
    store_result(settings, job_id, result_document)
    view = client.get(f"/v1/jobs/{job_id}", headers=alice).json()
    stored = json.loads(result_document)
    assert view["status"] == "succeeded" and view["attempts"] == 1
    assert view["summary"]["verdict"] == stored["summary"]["verdict"]
    assert view["progress"]["step"] == view["progress"]["total"] == 12
    assert view["started_at"] and view["finished_at"] and view["error"] is None


def test_a_poll_of_an_unchanged_job_is_a_304(
    client: TestClient, alice: Headers, submit: Submit, settings: Settings
) -> None:
    from service.store.jobs import claim

    job_id = submit()["id"]
    first = client.get(f"/v1/jobs/{job_id}", headers=alice)
    etag = first.headers["etag"]
    again = client.get(f"/v1/jobs/{job_id}", headers={**alice, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    listed = client.get(f"/v1/jobs/{job_id}", headers={**alice, "If-None-Match": f'"x", {etag}'})
    assert listed.status_code == 304
    with session_scope(settings.store_url) as session:
        assert claim(session, job_id, "w", 60) is not None
    changed = client.get(f"/v1/jobs/{job_id}", headers={**alice, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["status"] == "running"
    assert changed.headers["etag"] != etag


def test_a_failed_job_shows_its_error(
    client: TestClient, alice: Headers, submit: Submit, settings: Settings
) -> None:
    from service.store.jobs import claim, finish

    job_id = submit()["id"]
    with session_scope(settings.store_url) as session:
        taken = claim(session, job_id, "w", 60)
        assert taken is not None
        error = {"type": "RuntimeError", "message": "boom"}
        finish(session, job_id, taken.token, "failed", error=error)
    view = client.get(f"/v1/jobs/{job_id}", headers=alice).json()
    assert view["status"] == "failed" and view["error"]["message"] == "boom"


def test_unknown_job_is_a_404_problem(client: TestClient, alice: Headers) -> None:
    r = client.get("/v1/jobs/job_nope", headers=alice)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["instance"] == "/v1/jobs/job_nope"


def test_list_filters_by_status(client: TestClient, alice: Headers, submit: Submit) -> None:
    first, second = submit()["id"], submit()["id"]
    assert client.post(f"/v1/jobs/{first}/cancel", headers=alice).status_code == 202
    page = client.get("/v1/jobs", headers=alice).json()
    assert [j["id"] for j in page["items"]] == [second, first] and page["next_cursor"] is None
    cancelled = client.get("/v1/jobs", params={"status": "cancelled"}, headers=alice).json()
    assert [j["id"] for j in cancelled["items"]] == [first]
    bad = client.get("/v1/jobs", params={"status": "done"}, headers=alice)
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "query.status"


def test_list_limit_and_cursor_are_checked(client: TestClient, alice: Headers) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}):
        r = client.get("/v1/jobs", params=params, headers=alice)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "query.limit"
    for cursor in ("garbage", "W10", "WyJ4IiwgMV0"):  # not base64 JSON; []; ["x", 1]
        r = client.get("/v1/jobs", params={"cursor": cursor}, headers=alice)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "query.cursor"


def _all_pages(client: TestClient, headers: Headers, between: Callable[[], None]) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/jobs", params=params, headers=headers).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        between()


def test_pagination_has_no_gaps_or_repeats_while_jobs_arrive(
    client: TestClient, alice: Headers, submit: Submit, settings: Settings
) -> None:
    existing = [submit()["id"] for _ in range(9)]
    # Three more jobs with the very same creation time: the id breaks the tie.
    tenant = client.get(f"/v1/jobs/{existing[0]}", headers=alice)
    assert tenant.status_code == 200
    with session_scope(settings.store_url) as session:
        owner = session.scalar(select(Job.tenant_id).where(Job.id == existing[0]))
        assert owner is not None
        same = datetime(2000, 1, 1, tzinfo=timezone.utc)
        for _ in range(3):
            add_job(session, owner, {"model": {"type": "mlp"}}, 1, "cpu").created_at = same
    newest_first = _all_pages(client, alice, between=lambda: None)
    assert len(newest_first) == len(set(newest_first)) == 12
    assert newest_first[:9] == existing[::-1]
    arrived: list[str] = []
    during = _all_pages(client, alice, between=lambda: arrived.append(submit()["id"]))
    assert during == newest_first  # every job that was there, once, in order
    assert len(arrived) == 2 and not set(arrived) & set(during)


def test_cancel_a_queued_job(
    client: TestClient, alice: Headers, submit: Submit, settings: Settings
) -> None:
    job_id = submit()["id"]
    r = client.post(f"/v1/jobs/{job_id}/cancel", headers=alice)
    assert r.status_code == 202
    assert r.json()["status"] == "cancelled" and r.json()["cancel_requested"] is True
    again = client.post(f"/v1/jobs/{job_id}/cancel", headers=alice)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:gradprobe:problem:job-final"


def test_cancel_a_running_job_flags_it_for_its_worker(
    client: TestClient, alice: Headers, submit: Submit, settings: Settings
) -> None:
    from service.store.jobs import claim

    job_id = submit()["id"]
    with session_scope(settings.store_url) as session:
        assert claim(session, job_id, "w", 60) is not None
    r = client.post(f"/v1/jobs/{job_id}/cancel", headers=alice)
    assert r.status_code == 202
    assert r.json()["status"] == "running" and r.json()["cancel_requested"] is True


def test_cancel_a_finished_job_is_409(
    client: TestClient, alice: Headers, finished_job: str
) -> None:
    r = client.post(f"/v1/jobs/{finished_job}/cancel", headers=alice)
    assert r.status_code == 409 and "succeeded" in r.json()["detail"]


def test_delete_removes_the_job_and_its_result(
    client: TestClient, alice: Headers, finished_job: str, settings: Settings
) -> None:
    r = client.delete(f"/v1/jobs/{finished_job}", headers=alice)
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/v1/jobs/{finished_job}", headers=alice).status_code == 404
    assert client.get(f"/v1/jobs/{finished_job}/stats", headers=alice).status_code == 404
    assert client.delete(f"/v1/jobs/{finished_job}", headers=alice).status_code == 404
    assert count_jobs(settings) == 0


def test_a_racing_request_with_the_same_key_gets_the_same_job(
    client: TestClient,
    alice: Headers,
    settings: Settings,
    monkeypatch: Any,
    queued: Callable[[], list[str]],
) -> None:
    """Two requests with one Idempotency-Key, both past the lookup before either commits
    (here the rival is another API process, committing while this one counts the active
    jobs): the store's unique key makes this one's insert fail, and it answers with the
    rival's job."""
    import service.api.submit_batch as batch_module
    from service.api.submit import body_digest

    body = {"model": {"type": "mlp", "depth": 3}}
    headers = {**alice, "Idempotency-Key": "racing"}
    active_counts = batch_module.active_counts
    rival: list[str] = []

    def rival_commits_first(session: Any, tenants: set[str]) -> dict[str, int]:
        if not rival:
            (tenant,) = tenants
            with session_scope(settings.store_url) as other:
                job = add_job(
                    other, tenant, body, 10, "cpu", idempotency=("racing", body_digest(body))
                )
                rival.append(job.id)
        return active_counts(session, tenants)

    monkeypatch.setattr(batch_module, "active_counts", rival_commits_first)
    r = client.post("/v1/jobs", json=body, headers=headers)
    assert r.status_code == 202 and r.json()["id"] == rival[0]
    assert r.headers["idempotent-replayed"] == "true"
    assert count_jobs(settings) == 1 and queued() == []  # the rival publishes its own job
