"""`client.jobs`: submit, look up, list, cancel and delete jobs, fetch their statistics and
plots, and follow their events. The calls and their parsing are shared (`_endpoints`); these
classes only do the I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from gradprobe.api import JobList, JobStatus, JobView
from gradprobe.client import _endpoints as ep
from gradprobe.client._sse import KEEPALIVE, Event, stream_call
from gradprobe.client.job import AsyncJob, Job, Names
from gradprobe.result import Result

if TYPE_CHECKING:
    from gradprobe.client.client import AsyncClient, Client

PAGE_SIZE = 20


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, spec: ep.SpecLike, idempotency_key: str | None = None) -> Job:
        """Submit a spec (a dict or a `JobSpec`); returns the queued job. Retries resend the
        same Idempotency-Key (a fresh one unless given), so they never make a second job."""
        response = self._client._send(ep.create_job(spec, idempotency_key))
        return Job(self._client, ep.parse(JobView, response))

    def get(self, job_id: str) -> Job:
        return Job(self._client, ep.parse(JobView, self._client._send(ep.get_job(job_id))))

    def list(
        self, status: JobStatus | None = None, limit: int | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[Job]:
        """Jobs, newest first, fetched page by page as the iteration goes; at most `limit`."""
        pages = ep.job_pages(status, page_size, limit)
        while (call := pages.next_call()) is not None:
            for view in pages.take(ep.parse(JobList, self._client._send(call))):
                yield Job(self._client, view)

    def cancel(self, job_id: str) -> Job:
        return Job(self._client, ep.parse(JobView, self._client._send(ep.cancel_job(job_id))))

    def delete(self, job_id: str) -> None:
        self._client._send(ep.delete_job(job_id))

    def stats(
        self,
        job_id: str,
        layers: Names = None,
        metrics: Names = None,
        max_points: int | None = None,
    ) -> Result:
        """The result document, optionally narrowed to some layers, metrics and steps."""
        call = ep.job_stats(job_id, layers, metrics, max_points)
        return ep.parse(Result, self._client._send(call))

    def plot(self, job_id: str, name: str, fmt: str = "png") -> bytes:
        """A plot drawn by the server (`grad_flow`, `profile`, `timesteps`, `loss`, `units`)
        as PNG or SVG bytes."""
        return bytes(self._client._send(ep.job_plot(job_id, name, fmt)).content)

    def events(self, job_id: str, read_timeout: float | None = None) -> Iterator[Event]:
        """The job's Server-Sent Events as they come: `status` (a JobView document),
        `progress` (step, total, loss), `deleted`; the iteration ends after the final status.
        `read_timeout` bounds the wait for each (the server sends a keep-alive every 15 s).
        Not retried: raises `ApiError`, `ApiConnectionError` or `EventsUnavailable`."""
        call = stream_call(ep.job_events_path(job_id), read_timeout)
        for event in self._client._stream(call):
            if event is not KEEPALIVE:
                yield event


class AsyncJobs:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, spec: ep.SpecLike, idempotency_key: str | None = None) -> AsyncJob:
        """As `Jobs.create`."""
        response = await self._client._send(ep.create_job(spec, idempotency_key))
        return AsyncJob(self._client, ep.parse(JobView, response))

    async def get(self, job_id: str) -> AsyncJob:
        response = await self._client._send(ep.get_job(job_id))
        return AsyncJob(self._client, ep.parse(JobView, response))

    async def list(
        self, status: JobStatus | None = None, limit: int | None = None, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[AsyncJob]:
        """As `Jobs.list`: `async for job in client.jobs.list(): ...`."""
        pages = ep.job_pages(status, page_size, limit)
        while (call := pages.next_call()) is not None:
            for view in pages.take(ep.parse(JobList, await self._client._send(call))):
                yield AsyncJob(self._client, view)

    async def cancel(self, job_id: str) -> AsyncJob:
        response = await self._client._send(ep.cancel_job(job_id))
        return AsyncJob(self._client, ep.parse(JobView, response))

    async def delete(self, job_id: str) -> None:
        await self._client._send(ep.delete_job(job_id))

    async def stats(
        self,
        job_id: str,
        layers: Names = None,
        metrics: Names = None,
        max_points: int | None = None,
    ) -> Result:
        """As `Jobs.stats`."""
        call = ep.job_stats(job_id, layers, metrics, max_points)
        return ep.parse(Result, await self._client._send(call))

    async def plot(self, job_id: str, name: str, fmt: str = "png") -> bytes:
        """As `Jobs.plot`."""
        return bytes((await self._client._send(ep.job_plot(job_id, name, fmt))).content)

    async def events(self, job_id: str, read_timeout: float | None = None) -> AsyncIterator[Event]:
        """As `Jobs.events`: `async for event in client.jobs.events(job_id): ...`."""
        call = stream_call(ep.job_events_path(job_id), read_timeout)
        async for event in self._client._stream(call):
            if event is not KEEPALIVE:
                yield event
