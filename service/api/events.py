"""`GET /v1/jobs/{id}/events`: a job's life as Server-Sent Events.

One `JobWatcher` per API process reads every watched job in ONE store query per tick,
however many clients listen, and wakes the listeners of jobs that changed; so 100 clients
waiting on jobs cost the store one small query per tick, not 100. A stream sends `status`
when the status changes, `progress` when the step moves, a comment to keep proxies from
timing out, and ends after the terminal status. A client that goes away only removes its
subscription: nothing keeps running for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from gradprobe.api import JobView
from service.api.deps import ReadJobDep
from service.api.problems import responses
from service.api.views import job_view
from service.store.db import session_scope
from service.store.jobs import FINAL
from service.store.models import Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
TICK_S = 0.25
KEEPALIVE_S = 15.0


@dataclass
class Watched:
    view: JobView | None
    listeners: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class JobWatcher:
    """Polls the watched jobs together while anyone listens; stops when no one does."""

    def __init__(self, store_url: str, tick_s: float = TICK_S) -> None:
        self.store_url, self.tick_s = store_url, tick_s
        self.jobs: dict[str, Watched] = {}
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, view: JobView) -> Watched:
        watched = self.jobs.setdefault(view.id, Watched(view))
        watched.listeners += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return watched

    def unsubscribe(self, job_id: str) -> None:
        watched = self.jobs.get(job_id)
        if watched is not None:
            watched.listeners -= 1
            if watched.listeners <= 0:
                del self.jobs[job_id]

    def _read(self, ids: list[str]) -> dict[str, JobView]:
        with session_scope(self.store_url) as session:
            return {j.id: job_view(j) for j in session.scalars(select(Job).where(Job.id.in_(ids)))}

    async def _run(self) -> None:
        while self.jobs:
            await asyncio.sleep(self.tick_s)
            ids = list(self.jobs)
            if not ids:
                break
            views = await anyio.to_thread.run_sync(self._read, ids)
            for job_id in ids:
                watched = self.jobs.get(job_id)
                if watched is None:
                    continue
                view = views.get(job_id)  # None: the job was deleted
                if view != watched.view:
                    watched.view = view
                    watched.changed.set()


def _event(kind: str, data: str, seq: int) -> bytes:
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


async def _stream(request: Request, watcher: JobWatcher, first: JobView) -> AsyncIterator[bytes]:
    watched = watcher.subscribe(first)
    seq, sent_status, sent_step = 0, None, None
    try:
        view: JobView | None = first
        while True:
            if view is None:
                seq += 1
                yield _event("deleted", json.dumps({"id": first.id}), seq)
                return
            if view.status != sent_status:
                seq += 1
                sent_status = view.status
                yield _event("status", view.model_dump_json(), seq)
            if view.progress.step != sent_step:
                seq += 1
                sent_step = view.progress.step
                yield _event("progress", view.progress.model_dump_json(), seq)
            if view.status in FINAL:
                return
            watched.changed.clear()
            try:
                await asyncio.wait_for(watched.changed.wait(), KEEPALIVE_S)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
            view = watched.view
    finally:
        watcher.unsubscribe(first.id)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `status` (the job view), `progress` "
            "(step, total, loss), `deleted`; the stream ends after the terminal status.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **responses(401, 404, 429),
    },
    summary="Follow a job live",
)
async def job_events(request: Request, job: ReadJobDep) -> StreamingResponse:
    watcher: JobWatcher = request.app.state.watcher
    return StreamingResponse(
        _stream(request, watcher, job_view(job)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
