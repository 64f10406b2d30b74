"""Job.wait(): polls with backoff to a cap, reports progress, ends on a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gradprobe.client import JobFailed, PollPolicy, WaitTimeout
from tests.client.conftest import FakeTime, Server
from tests.client.factories import job_view

JOB = "/v1/jobs/job_1"


def test_wait_reports_each_change_and_returns_the_finished_job(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on(
        "GET",
        JOB,
        job_view(status="queued"),
        job_view(status="running", step=10, loss=2.0),
        job_view(status="running", step=10, loss=2.0),  # no change: no callback
        job_view(status="running", step=60, loss=1.5),
        job_view(status="succeeded", step=100, loss=1.0),
    )
    seen: list[tuple[str, int]] = []
    job = client.jobs.get("job_1")
    done = job.wait(timeout=60, progress=lambda j: seen.append((j.status, j.progress.step)))
    assert done.status == "succeeded" and done.summary.verdict == "vanishing"
    assert job.status == "succeeded"  # the handle is updated in place
    assert seen == [("queued", 0), ("running", 10), ("running", 60), ("succeeded", 100)]
    assert fake_time.sleeps == pytest.approx([0.5, 0.75, 1.125, 1.6875])


def test_polls_back_off_to_the_cap(
    make_client: Callable[..., Any], server: Server, fake_time: FakeTime
) -> None:
    client = make_client(poll=PollPolicy(first=1.0, factor=2.0, cap=4.0))
    server.on("GET", JOB, *[job_view(status="running")] * 6, job_view(status="succeeded"))
    client.jobs.get("job_1").wait()
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_a_failed_job_raises_with_the_servers_error(client: Any, server: Server) -> None:
    error = {"type": "time_limit", "message": "the job ran past its soft time limit (2 s)"}
    server.on("GET", JOB, job_view(status="running"), job_view(status="failed", error=error))
    with pytest.raises(JobFailed) as caught:
        client.jobs.get("job_1").wait()
    assert caught.value.error is not None and caught.value.error.type == "time_limit"
    assert "soft time limit" in str(caught.value) and caught.value.job.id == "job_1"


def test_the_deadline_is_kept_without_real_sleeping(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on("GET", JOB, job_view(status="running"))
    start = fake_time.now
    with pytest.raises(WaitTimeout) as caught:
        client.jobs.get("job_1").wait(timeout=10)
    assert fake_time.now - start == pytest.approx(10.0)  # the last sleep is cut to the deadline
    assert sum(fake_time.sleeps) == pytest.approx(10.0)
    assert caught.value.timeout == 10 and caught.value.job.status == "running"
    polls = len(server.calls("GET", JOB)) - 1
    assert polls == len(fake_time.sleeps)  # one look after each sleep, the last at the deadline


def test_a_finished_job_returns_at_once(client: Any, server: Server, fake_time: FakeTime) -> None:
    server.on("GET", JOB, job_view(status="cancelled", step=30))
    job = client.jobs.get("job_1")
    assert job.wait(timeout=0).status == "cancelled"
    assert fake_time.sleeps == [] and len(server.requests) == 1
