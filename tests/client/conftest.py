"""Fixtures of the client tests: a scripted server behind httpx.MockTransport, a fake clock
and sleep (no real waiting), and `make_client`, parametrized so that every test runs against
both `Client` and `AsyncClient` (the latter behind `Blocking`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from gradprobe.client import AsyncClient, Client, RetryPolicy
from tests.client.blocking import Blocking
from tests.mock_server import FakeTime, Server

BASE = "http://gp.test"


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(kind: str, server: Server, fake_time: FakeTime) -> Iterator[Callable[..., Any]]:
    """make_client(**options) -> a Client (or an AsyncClient behind Blocking) that talks to
    `server` and sleeps on `fake_time`; retries without jitter unless `retry` is given."""
    runner = asyncio.Runner()
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options = {
            "base_url": BASE,
            "api_key": "gp_test",
            "retry": RetryPolicy(rand=lambda: 0.0),
            "clock": fake_time.clock,
            **options,
        }
        transport = httpx.MockTransport(server)
        if kind == "sync":
            client: Any = Client(
                http_client=httpx.Client(transport=transport), sleep=fake_time.sleep, **options
            )
        else:
            http = httpx.AsyncClient(transport=transport)
            client = Blocking(
                AsyncClient(http_client=http, sleep=fake_time.async_sleep, **options), runner
            )
        made.append(client)
        return client

    yield make
    for client in made:
        if kind == "sync":
            client._http.close()
        else:
            runner.run(client._target._http.aclose())
    runner.close()


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()
