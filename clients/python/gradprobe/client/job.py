"""A handle on one job, as `jobs.create()` and `jobs.get()` return it: the latest view the
client has of it, plus the actions on it. `Job` is the sync handle, `AsyncJob` the async one;
everything but the I/O lives in `JobHandle` and the shared `_wait`."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from contextlib import aclosing, closing, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradprobe.api import JobError, JobStatus, JobView, Progress
from gradprobe.client import _endpoints as ep
from gradprobe.client._wait import (
    FINAL,
    STREAM_BROKEN,
    Waiter,
    job_event,
    job_finished,
    job_state,
)
from gradprobe.client.errors import WaitTimeout
from gradprobe.client.stats import Stats
from gradprobe.result import Summary

if TYPE_CHECKING:
    from gradprobe.client.client import AsyncClient, Client

Names = Iterable[str] | str | None


class JobHandle:
    """What the sync and async handles share: the job's latest view, read-only."""

    def __init__(self, view: JobView) -> None:
        self.view = view

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def name(self) -> str | None:
        return self.view.name

    @property
    def status(self) -> JobStatus:
        return self.view.status

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.view.status in FINAL

    @property
    def progress(self) -> Progress:
        return self.view.progress

    @property
    def summary(self) -> Summary | None:
        """The result's summary (verdict, reasons, decay factors) once the job has a result."""
        return self.view.summary

    @property
    def error(self) -> JobError | None:
        """Why the job failed, once it has."""
        return self.view.error

    @property
    def created_at(self) -> datetime:
        return self.view.created_at

    def __repr__(self) -> str:
        p = self.view.progress
        return f"<{type(self).__name__} {self.id} {self.status} step {p.step}/{p.total}>"


class Job(JobHandle):
    def __init__(self, client: Client, view: JobView) -> None:
        super().__init__(view)
        self._client = client

    def refresh(self) -> Job:
        """Fetch the job's current state (in place); returns the handle itself."""
        self.view = self._client.jobs.get(self.id).view
        return self

    def wait(self, timeout: float = 600.0, progress: Callable[[Job], Any] | None = None) -> Job:
        """Wait until the job ends, at most `timeout` seconds, and return the handle: live
        from its Server-Sent Events while the server streams them, else by polling.

        `progress(job)` is called on every change of status or step. Raises `JobFailed` (with
        the server's error) if the job fails, `WaitTimeout` at the deadline; a cancelled job is
        returned like a succeeded one (look at `.status`).
        """
        waiter = Waiter(self._client._clock, timeout, self._client.config.poll)
        with closing(self._looks(waiter)) as looks:
            for _ in looks:
                if waiter.changed(job_state(self)) and progress is not None:
                    progress(self)
                if job_finished(self):
                    return self
        raise WaitTimeout(self, timeout)

    def _looks(self, waiter: Waiter) -> Generator[None, None, None]:
        """One item per new view of the job: the one in hand, one per event while the stream
        lasts, then one per poll until the deadline."""
        yield
        events = self._client._follow(ep.job_events_path(self.id), waiter)
        with suppress(*STREAM_BROKEN), closing(events):
            for event in events:
                self.view = job_event(self.view, event)
                yield
        while (delay := waiter.next_delay()) is not None:
            self._client._sleep(delay)
            self.refresh()
            yield

    def stats(
        self, layers: Names = None, metrics: Names = None, max_points: int | None = None
    ) -> Stats:
        """The job's statistics (filters as `jobs.stats`), with accessors by layer/metric."""
        return Stats(self._client.jobs.stats(self.id, layers, metrics, max_points))

    def plot(self, name: str, path: str | None = None, fmt: str | None = None) -> bytes:
        """A plot rendered by the server (`grad_flow`, `profile`, `timesteps`, `loss`,
        `units`) as PNG or SVG bytes (SVG when `path` ends in .svg); written to `path` if
        one is given."""
        picture = self._client.jobs.plot(self.id, name, ep.plot_format(path, fmt))
        if path is not None:
            Path(path).write_bytes(picture)
        return picture

    def cancel(self) -> Job:
        self.view = self._client.jobs.cancel(self.id).view
        return self

    def delete(self) -> None:
        self._client.jobs.delete(self.id)


class AsyncJob(JobHandle):
    def __init__(self, client: AsyncClient, view: JobView) -> None:
        super().__init__(view)
        self._client = client

    async def refresh(self) -> AsyncJob:
        """Fetch the job's current state (in place); returns the handle itself."""
        self.view = (await self._client.jobs.get(self.id)).view
        return self

    async def wait(
        self, timeout: float = 600.0, progress: Callable[[AsyncJob], Any] | None = None
    ) -> AsyncJob:
        """As `Job.wait`; `progress` may be a plain function or a coroutine function."""
        waiter = Waiter(self._client._clock, timeout, self._client.config.poll)
        async with aclosing(self._looks(waiter)) as looks:
            async for _ in looks:
                if waiter.changed(job_state(self)) and progress is not None:
                    shown = progress(self)
                    if inspect.isawaitable(shown):
                        await shown
                if job_finished(self):
                    return self
        raise WaitTimeout(self, timeout)

    async def _looks(self, waiter: Waiter) -> AsyncGenerator[None, None]:
        """As `Job._looks`."""
        yield
        events = self._client._follow(ep.job_events_path(self.id), waiter)
        with suppress(*STREAM_BROKEN):
            async with aclosing(events):
                async for event in events:
                    self.view = job_event(self.view, event)
                    yield
        while (delay := waiter.next_delay()) is not None:
            await self._client._sleep(delay)
            await self.refresh()
            yield

    async def stats(
        self, layers: Names = None, metrics: Names = None, max_points: int | None = None
    ) -> Stats:
        """The job's statistics (filters as `jobs.stats`), with accessors by layer/metric."""
        return Stats(await self._client.jobs.stats(self.id, layers, metrics, max_points))

    async def plot(self, name: str, path: str | None = None, fmt: str | None = None) -> bytes:
        """As `Job.plot`."""
        picture = await self._client.jobs.plot(self.id, name, ep.plot_format(path, fmt))
        if path is not None:
            Path(path).write_bytes(picture)
        return picture

    async def cancel(self) -> AsyncJob:
        self.view = (await self._client.jobs.cancel(self.id)).view
        return self

    async def delete(self) -> None:
        await self._client.jobs.delete(self.id)
