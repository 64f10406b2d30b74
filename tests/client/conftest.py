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

Answer = httpx.Response | dict[str, Any] | Exception | Callable[[httpx.Request], httpx.Response]
BASE = "http://gp.test"


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Server:
    """Answers by (method, path), in order; the last answer of a route repeats. Every request
    is recorded (with its body read)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):  # a fresh copy: a response is read once
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        if isinstance(answer, dict):
            return httpx.Response(200, json=answer)
        return answer(request)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


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
