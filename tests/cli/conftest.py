"""Fixtures of the CLI tests: a scripted server behind httpx.MockTransport, a clock that
moves only when the client sleeps, and `cli(...)`, which runs the `gradprobe` command in
process with typer's CliRunner, wired to both."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from gradprobe.cli import app, session
from gradprobe.cli.session import Wiring

Answer = (
    httpx.Response
    | dict[str, Any]
    | list[Any]
    | BaseException
    | Callable[[httpx.Request], httpx.Response]
)
URL = "http://gp.test"
Cli = Callable[..., Result]


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


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
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(request)
        if isinstance(answer, httpx.Response):  # a fresh copy: a response is read once
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return httpx.Response(200, json=answer)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def body(self, method: str, path: str) -> Any:
        return json.loads(self.calls(method, path)[-1].content)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def cli(server: Server, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """cli(*args, input=None) -> the result of `gradprobe ARGS --url ... --api-key ...`."""
    runner = CliRunner()
    wiring = Wiring(httpx.MockTransport(server), fake_time.sleep, fake_time.clock)
    monkeypatch.setattr(session, "WIRING", wiring)

    def run(*args: str, input: str | None = None) -> Result:
        argv = [*args, "--url", URL, "--api-key", "gp_test"]
        return runner.invoke(app, argv, input=input)

    return run


def no_traceback(result: Result) -> None:
    """An error ends with an exit code and a message: never an exception out of the CLI."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
