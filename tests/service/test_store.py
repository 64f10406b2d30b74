"""The job state machine on a real (SQLite) store: claims, leases, one result, sweeps."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.store.db import session_scope
from service.store.jobs import (
    ACTIVE,
    active_counts,
    add_job,
    claim,
    delete_job,
    finish,
    get_job,
    insert_jobs,
    mark_published,
    mark_unpublished,
    new_job,
    progress,
    renew,
    request_cancel,
    result_gz,
    sweep,
)
from service.store.keys import create_key, digest, revoke_key, tenant_for
from service.store.migrate import upgrade
from service.store.models import ApiKey, Attempt, IdempotencyKey, Job

SPEC = {"model": {"type": "mlp", "depth": 2}}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    u = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(u)
    yield u


@pytest.fixture
def tenant(url: str) -> str:
    with session_scope(url) as s:
        return create_key(s, "t").tenant_id


def _job(url: str, tenant: str) -> str:
    with session_scope(url) as s:
        job_id = add_job(s, tenant, SPEC, 10, "cpu").id
        mark_published(s, job_id)
    return job_id


def test_a_job_is_claimed_once_and_ends_in_one_result(url: str, tenant: str) -> None:
    job_id = _job(url, tenant)
    with session_scope(url) as s:
        first = claim(s, job_id, "w1", lease_s=30)
    with session_scope(url) as s:
        assert claim(s, job_id, "w2", lease_s=30) is None  # a duplicate delivery does nothing
    assert first is not None and first.attempt == 1 and first.spec == SPEC
    with session_scope(url) as s:
        assert progress(s, job_id, first.token, 5, 0.5)
        assert not progress(s, job_id, "not-the-token", 6, 0.4)
        assert renew(s, job_id, first.token, 30) is False
        assert finish(s, job_id, first.token, "succeeded", document=b'{"a": 1}')
    with session_scope(url) as s:
        assert not finish(s, job_id, first.token, "succeeded", document=b"{}")  # once only
        job = get_job(s, job_id)
        assert job is not None and job.status == "succeeded" and job.step == 5
        assert gzip.decompress(result_gz(s, job_id) or b"") == b'{"a": 1}'


def test_an_expired_lease_is_requeued_and_the_stale_worker_can_write_nothing(
    url: str, tenant: str
) -> None:
    job_id = _job(url, tenant)
    with session_scope(url) as s:
        stale = claim(s, job_id, "dead", lease_s=-1)  # a lease that has already lapsed
    assert stale is not None
    with session_scope(url) as s:
        found = sweep(s, max_attempts=3, republish_after_s=600)
    assert found.requeued == [(job_id, "cpu")] and found.failed == []
    with session_scope(url) as s:
        assert renew(s, job_id, stale.token, 30) is None  # the lease is lost: stop
        again = claim(s, job_id, "w2", lease_s=30)
    assert again is not None and again.attempt == 2
    with session_scope(url) as s:
        assert not finish(s, job_id, stale.token, "succeeded", document=b"{}")
        assert finish(s, job_id, again.token, "succeeded", document=b"{}")
        outcomes = s.execute(select(Attempt.number, Attempt.outcome).order_by(Attempt.number))
        assert [tuple(r) for r in outcomes] == [(1, "lost"), (2, "succeeded")]


def test_a_job_whose_worker_keeps_dying_fails_after_max_attempts(url: str, tenant: str) -> None:
    job_id = _job(url, tenant)
    for _ in range(2):
        with session_scope(url) as s:
            assert claim(s, job_id, "dead", lease_s=-1) is not None
        with session_scope(url) as s:
            found = sweep(s, max_attempts=2, republish_after_s=600)
    assert found.failed == [job_id]
    with session_scope(url) as s:
        job = get_job(s, job_id)
        assert job is not None and job.status == "failed"
        assert job.error is not None and job.error["type"] == "worker_lost"


def test_unpublished_jobs_are_found_by_the_sweep(url: str, tenant: str) -> None:
    with session_scope(url) as s:
        job = add_job(s, tenant, SPEC, 10, "gpu")
        mark_unpublished(s, job.id)  # the broker refused it
        job.created_at = job.created_at.replace(year=2000)  # accepted long ago, never sent
    with session_scope(url) as s:
        assert sweep(s, 3, 600).requeued == [(job.id, "gpu")]


def test_cancel_queued_at_once_running_through_the_lease(url: str, tenant: str) -> None:
    queued, running = _job(url, tenant), _job(url, tenant)
    with session_scope(url) as s:
        c = claim(s, running, "w", 30)
        assert c is not None
        for job_id in (queued, running):
            job = get_job(s, job_id)
            assert job is not None
            request_cancel(s, job)
    with session_scope(url) as s:
        assert (j := get_job(s, queued)) is not None and j.status == "cancelled"
        assert claim(s, queued, "w", 30) is None
        assert renew(s, running, c.token, 30) is True  # the worker sees the request


def test_a_cancel_that_races_the_claim_still_reaches_the_worker(url: str, tenant: str) -> None:
    job_id = _job(url, tenant)
    with session_scope(url) as s:
        seen = get_job(s, job_id)
        assert seen is not None and seen.status == "queued"  # what the cancel route read
        with session_scope(url) as worker:
            c = claim(worker, job_id, "w", 30)  # a worker claims it before the update
        assert c is not None
        request_cancel(s, seen)
        assert seen.status == "running" and seen.cancel_requested
    with session_scope(url) as s:
        assert renew(s, job_id, c.token, 30) is True  # the worker is told to stop


def assert_inserted_as_added(url: str, tenant: str) -> None:
    """A job (and its Idempotency-Key) written by the batch's Core INSERT is, column by
    column and NULL for NULL, the row the ORM writes in `add_job`: all but the ids and the
    clock."""
    with session_scope(url) as s:
        added = add_job(s, tenant, SPEC, 10, "gpu", "a name", idempotency=("k1", "d" * 64)).id
        job = new_job(tenant, SPEC, 10, "gpu", "a name")
        insert_jobs(s, [job], [(job, "k2", "d" * 64)])
    jobs, keys = Job.__table__, IdempotencyKey.__table__
    # SQL NULL told apart from a JSON `null` (the JSON columns are read back as None either way)
    nulls = [c.is_(None).label(f"{c.name}_is_null") for c in jobs.columns]
    with session_scope(url) as s:
        rows = {r.id: r._asdict() for r in s.execute(select(jobs))}
        null = {r[0]: tuple(r[1:]) for r in s.execute(select(jobs.c.id, *nulls))}
        key_rows = {r.key: r._asdict() for r in s.execute(select(keys))}
    clock = ("id", "created_at", "updated_at", "published_at")
    a, b = rows[added], rows[job.id]
    assert {k: v for k, v in a.items() if k not in clock} == {
        k: v for k, v in b.items() if k not in clock
    }
    assert null[added] == null[job.id]
    assert b["created_at"] == b["updated_at"] == b["published_at"] == job.created_at
    assert all(a[k] is not None for k in clock)
    per_key = ("key", "job_id", "created_at")
    k1, k2 = ({k: v for k, v in r.items() if k not in per_key} for r in key_rows.values())
    assert k1 == k2 and key_rows["k2"]["job_id"] == job.id and key_rows["k1"]["job_id"] == added


def test_a_job_inserted_by_a_batch_is_the_row_add_job_writes(url: str, tenant: str) -> None:
    assert_inserted_as_added(url, tenant)


def assert_active_count_follows_the_jobs(url: str, tenant: str) -> None:
    """The tenant's `active_jobs` (kept by triggers, migration 0006) is its queued + running
    jobs after every kind of write: inserts, claims, ends, cancels, sweeps, deletes."""

    def counted() -> int:
        with session_scope(url) as s:
            kept = active_counts(s, {tenant})[tenant]
            active = select(func.count()).where(Job.tenant_id == tenant, Job.status.in_(ACTIVE))
            assert kept == s.scalar(active)
        return kept

    assert counted() == 0
    a, b, c, d = (_job(url, tenant) for _ in range(4))
    with session_scope(url) as s:
        more = [new_job(tenant, SPEC, 10, "cpu", None) for _ in range(3)]
        insert_jobs(s, more, [(more[0], "k", "d" * 64)])
    assert counted() == 7
    with session_scope(url) as s:
        done, lost = claim(s, a, "w", 30), claim(s, b, "dead", lease_s=-1)
        assert claim(s, c, "w", 30) is not None
    assert done is not None and lost is not None and counted() == 7  # running is active
    with session_scope(url) as s:
        progress(s, a, done.token, 3, 0.1)
        assert finish(s, a, done.token, "succeeded", document=b"{}")
    assert counted() == 6
    with session_scope(url) as s:
        assert sweep(s, max_attempts=1, republish_after_s=600).failed == [b]
        for job_id in (c, d):  # running: flagged only; queued: cancelled at once
            job = get_job(s, job_id)
            assert job is not None
            request_cancel(s, job)
    assert counted() == 4
    with session_scope(url) as s:
        delete_job(s, more[0].id)
        delete_job(s, a)  # an ended job: no change
    assert counted() == 3


def test_the_active_job_count_follows_the_jobs(url: str, tenant: str) -> None:
    assert_active_count_follows_the_jobs(url, tenant)


def test_keys_are_stored_hashed_and_revocable(url: str) -> None:
    with session_scope(url) as s:
        key = create_key(s, "alice")
    with session_scope(url) as s:
        row = s.get(ApiKey, key.id)
        assert row is not None and row.digest == digest(key.secret) != key.secret
        assert key.secret not in (row.prefix, row.digest, row.name)
        assert tenant_for(s, key.secret) == key.tenant_id
        assert tenant_for(s, key.secret + "x") is None
        assert revoke_key(s, key.id)
    with session_scope(url) as s:
        assert tenant_for(s, key.secret) is None
