"""`client.studies`: submit a study (one job per cell), list and follow studies, read their
comparison table and plot (docs/api.md, "Studies"). The calls are shared (`_endpoints`), and
so is the wait's logic (`_wait`); `Studies` and `AsyncStudies` only do the I/O.

    view = client.studies.create(preset)              # a StudyCreate body, or a study preset
    view = client.studies.wait(view.id, timeout=900)  # until every cell has ended
    view.table                                        # one StudyRow per finished cell
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from contextlib import aclosing, closing, suppress
from typing import TYPE_CHECKING, Any, Literal

from gradprobe.api import StudyBrief, StudyList, StudyView
from gradprobe.client import _endpoints as ep
from gradprobe.client._sse import KEEPALIVE, Event, stream_call
from gradprobe.client._transport import Call
from gradprobe.client._wait import STREAM_BROKEN, STUDY_FINAL, Waiter, study_event, study_state
from gradprobe.client.errors import GradprobeError

if TYPE_CHECKING:
    from gradprobe.client.client import AsyncClient, Client

FINAL = STUDY_FINAL
PAGE_SIZE = 20
StudyBody = Mapping[str, Any]


class StudyWaitTimeout(GradprobeError):
    """`studies.wait` reached its deadline; the study's cells go on running."""

    def __init__(self, study: StudyView, timeout: float) -> None:
        self.study = study
        self.timeout = timeout
        super().__init__(f"study {study.id} is still {study.status} after {timeout:g} s")


class Studies:
    def __init__(self, client: Client) -> None:
        self._client = client

    def _view(self, call: Call) -> StudyView:
        return ep.parse(StudyView, self._client._send(call))

    def create(self, body: StudyBody, idempotency_key: str | None = None) -> StudyView:
        """POST /v1/studies: a base spec and `grid` or `variants` (a study preset posts as it
        is). Sent with an Idempotency-Key, so a retry never makes a second study."""
        return self._view(ep.create_study(body, idempotency_key))

    def get(self, study_id: str) -> StudyView:
        return self._view(ep.get_study(study_id))

    def list(self, limit: int | None = None, page_size: int = PAGE_SIZE) -> Iterator[StudyBrief]:
        """Studies, newest first, fetched page by page as the iteration goes; at most `limit`."""
        pages = ep.study_pages(page_size, limit)
        while (call := pages.next_call()) is not None:
            yield from pages.take(ep.parse(StudyList, self._client._send(call)))

    def cancel(self, study_id: str) -> StudyView:
        """Cancel every cell that has not ended (409 `Conflict` when all have)."""
        return self._view(ep.cancel_study(study_id))

    def plot(self, study_id: str, fmt: Literal["png", "svg"] = "png") -> bytes:
        """The comparison plot (409 `Conflict` while no cell has a result)."""
        return bytes(self._client._send(ep.study_plot(study_id, fmt)).content)

    def events(self, study_id: str, read_timeout: float | None = None) -> Iterator[Event]:
        """The study's Server-Sent Events as they come: `cell` (variant, job_id, status,
        progress) and `status` (status, counts); the iteration ends once every cell ended.
        Not retried: raises `ApiError`, `ApiConnectionError` or `EventsUnavailable`."""
        call = stream_call(ep.study_events_path(study_id), read_timeout)
        for event in self._client._stream(call):
            if event is not KEEPALIVE:
                yield event

    def wait(
        self,
        study_id: str,
        timeout: float = 1800.0,
        progress: Callable[[StudyView], Any] | None = None,
    ) -> StudyView:
        """Wait until every cell has ended (status succeeded, failed, cancelled or partial),
        at most `timeout` seconds: live from the study's events while the server streams
        them, else by polling. `progress(view)` is called on each change of the status or of
        a cell's status or step. Returns the study with its table; `StudyWaitTimeout` at the
        deadline."""
        waiter = Waiter(self._client._clock, timeout, self._client.config.poll)
        view = self.get(study_id)
        with closing(self._looks(view, waiter)) as looks:
            for view in looks:
                if waiter.changed(study_state(view)) and progress is not None:
                    progress(view)
                if view.status in FINAL:
                    return view
        raise StudyWaitTimeout(view, timeout)

    def _looks(self, view: StudyView, waiter: Waiter) -> Generator[StudyView, None, None]:
        """The study as seen first, after each event while the stream lasts (fetched whole
        once it is final: the table), then after each poll until the deadline."""
        yield view
        events = self._client._follow(ep.study_events_path(view.id), waiter)
        with suppress(*STREAM_BROKEN), closing(events):
            for event in events:
                view = study_event(view, event)
                yield self.get(view.id) if view.status in FINAL else view
        while (delay := waiter.next_delay()) is not None:
            self._client._sleep(delay)
            yield self.get(view.id)


class AsyncStudies:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _view(self, call: Call) -> StudyView:
        return ep.parse(StudyView, await self._client._send(call))

    async def create(self, body: StudyBody, idempotency_key: str | None = None) -> StudyView:
        """As `Studies.create`."""
        return await self._view(ep.create_study(body, idempotency_key))

    async def get(self, study_id: str) -> StudyView:
        return await self._view(ep.get_study(study_id))

    async def list(
        self, limit: int | None = None, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[StudyBrief]:
        """As `Studies.list`: `async for study in client.studies.list(): ...`."""
        pages = ep.study_pages(page_size, limit)
        while (call := pages.next_call()) is not None:
            for brief in pages.take(ep.parse(StudyList, await self._client._send(call))):
                yield brief

    async def cancel(self, study_id: str) -> StudyView:
        """As `Studies.cancel`."""
        return await self._view(ep.cancel_study(study_id))

    async def plot(self, study_id: str, fmt: Literal["png", "svg"] = "png") -> bytes:
        """As `Studies.plot`."""
        return bytes((await self._client._send(ep.study_plot(study_id, fmt))).content)

    async def events(
        self, study_id: str, read_timeout: float | None = None
    ) -> AsyncIterator[Event]:
        """As `Studies.events`."""
        call = stream_call(ep.study_events_path(study_id), read_timeout)
        async for event in self._client._stream(call):
            if event is not KEEPALIVE:
                yield event

    async def wait(
        self,
        study_id: str,
        timeout: float = 1800.0,
        progress: Callable[[StudyView], Any] | None = None,
    ) -> StudyView:
        """As `Studies.wait`; `progress` may be a plain function or a coroutine function."""
        waiter = Waiter(self._client._clock, timeout, self._client.config.poll)
        view = await self.get(study_id)
        async with aclosing(self._looks(view, waiter)) as looks:
            async for view in looks:
                if waiter.changed(study_state(view)) and progress is not None:
                    shown = progress(view)
                    if inspect.isawaitable(shown):
                        await shown
                if view.status in FINAL:
                    return view
        raise StudyWaitTimeout(view, timeout)

    async def _looks(self, view: StudyView, waiter: Waiter) -> AsyncGenerator[StudyView, None]:
        """As `Studies._looks`."""
        yield view
        events = self._client._follow(ep.study_events_path(view.id), waiter)
        with suppress(*STREAM_BROKEN):
            async with aclosing(events):
                async for event in events:
                    view = study_event(view, event)
                    yield await self.get(view.id) if view.status in FINAL else view
        while (delay := waiter.next_delay()) is not None:
            await self._client._sleep(delay)
            yield await self.get(view.id)
