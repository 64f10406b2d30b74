"""`Client` and `AsyncClient`: the same resources (`jobs`, `studies`, `specs`, `presets`) over one
transport core; the only difference is that the async client awaits its I/O.

    from gradprobe import Client
    client = Client()               # GRADPROBE_URL, GRADPROBE_API_KEY from the environment
    job = client.jobs.create({"model": {"type": "mlp", "depth": 50, "activation": "sigmoid"}})
    job.wait(timeout=600).summary.verdict
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import aclosing, closing
from itertools import count
from types import TracebackType

import anyio
import httpx

from gradprobe.client._config import ClientConfig, PollPolicy
from gradprobe.client._retry import RetryPolicy
from gradprobe.client._sse import KEEPALIVE, Event, Parser, check_stream, stream_call
from gradprobe.client._transport import Call, Outcome, TransportCore, broken
from gradprobe.client._wait import Waiter
from gradprobe.client.jobs import AsyncJobs, Jobs
from gradprobe.client.specs import AsyncPresets, AsyncSpecs, Presets, Specs
from gradprobe.client.studies import AsyncStudies, Studies

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
        self.studies = Studies(self)
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

    def _stream(self, call: Call) -> Generator[Event, None, None]:
        """The events of a Server-Sent Events stream, keep-alives included, until the server
        ends it. Not retried (whoever cannot have the stream polls instead): raises the
        server's `ApiError`, `EventsUnavailable` or `ApiConnectionError`."""
        try:
            response = self._http.send(self._core.build(call), stream=True)
        except httpx.TransportError as exc:
            raise broken(exc) from exc
        try:
            if not response.is_success:
                response.read()
            check_stream(response)
            parser = Parser()
            for line in response.iter_lines():
                if (event := parser.feed(line)) is not None:
                    yield event
        except httpx.TransportError as exc:
            raise broken(exc) from exc
        finally:
            response.close()

    def _follow(self, path: str, waiter: Waiter) -> Generator[Event, None, None]:
        """The events at `path` for a wait: until the server ends the stream or the deadline
        passes, opened again when the deadline comes nearer than its read timeout."""
        while (read_s := waiter.read_timeout()) is not None:
            with closing(self._stream(stream_call(path, read_s))) as stream:
                for event in stream:
                    if waiter.stream_over(read_s):
                        break
                    if event is not KEEPALIVE:
                        yield event
                else:
                    return

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
        self.studies = AsyncStudies(self)
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

    async def _stream(self, call: Call) -> AsyncGenerator[Event, None]:
        """As `Client._stream`."""
        try:
            response = await self._http.send(self._core.build(call), stream=True)
        except httpx.TransportError as exc:
            raise broken(exc) from exc
        try:
            if not response.is_success:
                await response.aread()
            check_stream(response)
            parser = Parser()
            async for line in response.aiter_lines():
                if (event := parser.feed(line)) is not None:
                    yield event
        except httpx.TransportError as exc:
            raise broken(exc) from exc
        finally:
            await response.aclose()

    async def _follow(self, path: str, waiter: Waiter) -> AsyncGenerator[Event, None]:
        """As `Client._follow`."""
        while (read_s := waiter.read_timeout()) is not None:
            async with aclosing(self._stream(stream_call(path, read_s))) as stream:
                async for event in stream:
                    if waiter.stream_over(read_s):
                        break
                    if event is not KEEPALIVE:
                        yield event
                else:
                    return

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
