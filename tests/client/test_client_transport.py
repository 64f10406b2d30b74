"""Retries, backoff, Retry-After, headers and configuration, for Client and AsyncClient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from gradprobe.client import (
    ApiConnectionError,
    AuthError,
    Conflict,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from gradprobe.client._retry import parse_retry_after
from tests.client.conftest import FakeTime, Server
from tests.client.factories import job_view, problem

JOB = "/v1/jobs/job_1"


def unavailable(**headers: str) -> httpx.Response:
    return problem(503, "internal", "try later", headers=headers)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retries_transient_statuses_then_succeeds(
    client: Any, server: Server, fake_time: FakeTime, status: int
) -> None:
    server.on("GET", JOB, httpx.Response(status), httpx.Response(status), job_view())
    assert client.jobs.get("job_1").id == "job_1"
    assert len(server.requests) == 3
    assert fake_time.sleeps == [0.5, 1.0]  # base 0.5 s, doubled; no jitter in these tests


def test_gives_up_after_max_attempts_with_the_last_error(
    make_client: Callable[..., Any], server: Server, fake_time: FakeTime
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=3, rand=lambda: 0.0))
    server.on("GET", JOB, unavailable())
    with pytest.raises(ServerError) as caught:
        client.jobs.get("job_1")
    assert caught.value.status == 503 and caught.value.detail == "try later"
    assert len(server.requests) == 3 and len(fake_time.sleeps) == 2


def test_backoff_is_capped_and_jittered(
    make_client: Callable[..., Any], server: Server, fake_time: FakeTime
) -> None:
    policy = RetryPolicy(max_attempts=7, base_delay=1.0, max_delay=4.0, jitter=0.5, rand=lambda: 1)
    client = make_client(retry=policy)
    server.on("GET", JOB, httpx.Response(500))
    with pytest.raises(ServerError):
        client.jobs.get("job_1")
    # 1, 2, 4, 4, 4, 4 (capped), each less its full jitter (half)
    assert fake_time.sleeps == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]


def test_jitter_stays_within_its_band() -> None:
    import random

    rng = random.Random(7)
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.25, rand=rng.random)
    delays = [policy.delay(3) for _ in range(200)]
    assert all(3.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 100


def test_honours_retry_after_in_seconds(client: Any, server: Server, fake_time: FakeTime) -> None:
    limited = problem(429, "rate-limited", "slow down", headers={"Retry-After": "3"})
    server.on("GET", JOB, limited, job_view())
    client.jobs.get("job_1")
    assert fake_time.sleeps == [3.0]


def test_honours_retry_after_as_an_http_date(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    server.on("GET", JOB, unavailable(**{"Retry-After": when}), job_view())
    client.jobs.get("job_1")
    assert 27 <= fake_time.sleeps[0] <= 30


def test_a_retry_after_too_long_falls_back_to_backoff(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on("GET", JOB, unavailable(**{"Retry-After": "3600"}), job_view())
    client.jobs.get("job_1")
    assert fake_time.sleeps == [0.5]


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:10 GMT", now) == 10.0
    assert parse_retry_after("Tue, 31 Dec 2024 23:00:00 GMT", now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_rate_limited_carries_retry_after_when_retries_run_out(
    make_client: Callable[..., Any], server: Server
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=1))
    server.on("GET", JOB, problem(429, "rate-limited", "slow down", headers={"Retry-After": "2"}))
    with pytest.raises(RateLimited) as caught:
        client.jobs.get("job_1")
    assert caught.value.retry_after == 2.0 and len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthError), (404, NotFound), (422, ValidationError)]
)
def test_client_errors_are_not_retried(
    client: Any, server: Server, fake_time: FakeTime, status: int, error: type[Exception]
) -> None:
    server.on("GET", JOB, problem(status, "x", "no"))
    with pytest.raises(error):
        client.jobs.get("job_1")
    assert len(server.requests) == 1 and fake_time.sleeps == []


@pytest.mark.parametrize("kind_", ["job-final", "no-result"])
def test_a_conflict_about_a_final_state_is_not_retried(
    client: Any, server: Server, kind_: str
) -> None:
    server.on("POST", f"{JOB}/cancel", problem(409, kind_, "job job_1 is already succeeded"))
    with pytest.raises(Conflict) as caught:
        client.jobs.cancel("job_1")
    assert len(server.requests) == 1 and caught.value.type.endswith(kind_)


def test_connection_errors_are_retried_then_raised(
    client: Any, server: Server, fake_time: FakeTime
) -> None:
    server.on("GET", JOB, httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), job_view())
    assert client.jobs.get("job_1").status == "queued"
    server.on("GET", JOB, httpx.ConnectError("refused"))
    with pytest.raises(ApiConnectionError) as caught:
        client.jobs.get("job_1")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(server.requests) == 3 + 4


def test_sends_the_key_and_a_user_agent(client: Any, server: Server) -> None:
    server.on("GET", JOB, job_view())
    client.jobs.get("job_1")
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer gp_test"
    assert headers["user-agent"].startswith("gradprobe-python/")
    assert str(server.requests[0].url) == "http://gp.test/v1/jobs/job_1"


def test_configuration_arguments_then_environment_then_default(
    make_client: Callable[..., Any], server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRADPROBE_URL", raising=False)
    monkeypatch.delenv("GRADPROBE_API_KEY", raising=False)
    bare = make_client(base_url=None, api_key=None)
    assert bare.config.base_url == "http://127.0.0.1:8000" and bare.config.api_key is None

    monkeypatch.setenv("GRADPROBE_URL", "http://env.test:9000/")
    monkeypatch.setenv("GRADPROBE_API_KEY", "gp_env")
    from_env = make_client(base_url=None, api_key=None)
    assert from_env.config.base_url == "http://env.test:9000"
    server.on("GET", JOB, job_view())
    from_env.jobs.get("job_1")
    assert server.requests[-1].url.host == "env.test"
    assert server.requests[-1].headers["authorization"] == "Bearer gp_env"

    given = make_client(base_url="http://arg.test", api_key="gp_arg")
    assert (given.config.base_url, given.config.api_key) == ("http://arg.test", "gp_arg")
