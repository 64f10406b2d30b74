"""`Client` and `AsyncClient`: the same resources (`jobs`, `specs`, `presets`) over one
transport core; the only difference is that the async client awaits its I/O.

    from gradprobe import Client
    client = Client()               # GRADPROBE_URL, GRADPROBE_API_KEY from the environment
    job = client.jobs.create({"model": {"type": "mlp", "depth": 50, "activation": "sigmoid"}})
    job.wait(timeout=600).summary.verdict
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from itertools import count
from types import TracebackType

import anyio
import httpx

from gradprobe.client._config import ClientConfig, PollPolicy
from gradprobe.client._retry import RetryPolicy
from gradprobe.client._transport import Call, Outcome, TransportCore
from gradprobe.client.jobs import AsyncJobs, Jobs
from gradprobe.client.specs import AsyncPresets, AsyncSpecs, Presets, Specs

Clock = Callable[[], float]


class _Base:
    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        retry: RetryPolicy | None,
        poll: PollPolicy | None,
        clock: Clock | None,
    ) -> None:
        self.config = ClientConfig.resolve(base_url, api_key, timeout, retry, poll)
        self._core = TransportCore(self.config)
        self._clock: Clock = clock or time.monotonic

    @property
    def base_url(self) -> str:
        return self.config.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.base_url!r})"


class Client(_Base):
    """The synchronous client.

    Arguments win over the environment (`GRADPROBE_URL`, `GRADPROBE_API_KEY`); the URL
    defaults to http://127.0.0.1:8000. `retry` and `poll` tune the retries and `Job.wait()`;
    `http_client` replaces the underlying `httpx.Client` (it is then yours to close); `sleep`
    and `clock` replace `time.sleep` and `time.monotonic` (for tests).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry, poll, clock)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._sleep = sleep or time.sleep
        self.jobs = Jobs(self)
        self.specs = Specs(self)
        self.presets = Presets(self)

    def _send(self, call: Call) -> httpx.Response:
        request = self._core.build(call)
        for attempt in count(1):
            outcome = self._try(request)
            delay = self._core.retry_delay(call, attempt, outcome)
            if delay is None:
                return self._core.finish(outcome)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _try(self, request: httpx.Request) -> Outcome:
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            return exc

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """The asynchronous client: as `Client`, with `await` on every call that does I/O
    (`sleep` is then an async function; the default is `anyio.sleep`)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry, poll, clock)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._sleep = sleep or anyio.sleep
        self.jobs = AsyncJobs(self)
        self.specs = AsyncSpecs(self)
        self.presets = AsyncPresets(self)

    async def _send(self, call: Call) -> httpx.Response:
        request = self._core.build(call)
        for attempt in count(1):
            outcome = await self._try(request)
            delay = self._core.retry_delay(call, attempt, outcome)
            if delay is None:
                return self._core.finish(outcome)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _try(self, request: httpx.Request) -> Outcome:
        try:
            return await self._http.send(request)
        except httpx.TransportError as exc:
            return exc

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
