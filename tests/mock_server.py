"""A scripted HTTP server for httpx.MockTransport and a fake clock: what the client's and the
CLI's tests answer requests with and sleep on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Answer = (
    httpx.Response
    | dict[str, Any]
    | list[Any]
    | BaseException
    | Callable[[httpx.Request], httpx.Response]
)


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
