"""`GET /v1/jobs/{id}/events`: a job's life as Server-Sent Events.

One `JobWatcher` per API process reads every watched job in ONE store query per tick,
however many clients listen, and wakes the listeners of jobs that changed; so 100 clients
waiting on jobs cost the store one small query per tick, not 100 (and a second one, for
the per-layer norms of the jobs whose step moved, in the ticks where any did). A stream
sends `status` when the status changes, `progress` (step, total, loss and the latest probe's
per-layer norms) when the step moves, a comment to keep proxies from timing out, and ends
after the terminal status. A client that goes away only removes its subscription: nothing
keeps running for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from gradprobe.api import JobView
from service.api.deps import ReadJobDep, in_store_thread
from service.api.problems import responses
from service.api.views import job_view
from service.store.db import session_scope
from service.store.jobs import FINAL
from service.store.models import Job

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
TICK_S = 0.25
KEEPALIVE_S = 15.0


Norms = dict[str, Any]  # worker.run.layer_norms: {"step", "metrics", "layers", "layer_count"}


def read_norms(session: Session, ids: list[str]) -> dict[str, Norms | None]:
    """The stored per-layer norms of these jobs (a deferred column: read only here)."""
    rows = session.execute(select(Job.id, Job.layer_norms).where(Job.id.in_(ids)))
    return {job_id: norms for job_id, norms in rows}


def progress_data(view: JobView, norms: Norms | None) -> dict[str, Any]:
    """A `progress` event's data: the view's progress and, when they are of its step, the
    norms (null otherwise: before the first probe, or norms from an earlier attempt)."""
    data = view.progress.model_dump(mode="json")
    data["norms"] = norms if norms is not None and norms.get("step") == view.progress.step else None
    return data


@dataclass
class Watched:
    view: JobView | None
    norms: Norms | None = None
    norms_step: int | None = None  # the job's step when `norms` was read
    listeners: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _progress: tuple[JobView, Norms | None, str] | None = None

    def progress_json(self, view: JobView) -> str:
        """`progress_data` of `view` and the latest norms, encoded once for all listeners."""
        cached = self._progress
        if cached is None or cached[0] is not view or cached[1] is not self.norms:
            cached = (view, self.norms, json.dumps(progress_data(view, self.norms)))
            self._progress = cached
        return cached[2]


class JobWatcher:
    """Polls the watched jobs together while anyone listens; stops when no one does."""

    def __init__(self, store_url: str, tick_s: float = TICK_S) -> None:
        self.store_url, self.tick_s = store_url, tick_s
        self.jobs: dict[str, Watched] = {}
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, view: JobView, norms: Norms | None) -> Watched:
        """Listen to a job, given its view and norms as the subscriber read them."""
        watched = self.jobs.get(view.id)
        if watched is None:
            watched = self.jobs[view.id] = Watched(view, norms, view.progress.step)
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

    def _read(
        self, known: dict[str, int | None]
    ) -> tuple[dict[str, JobView], dict[str, Norms | None]]:
        """The views of these jobs, and the norms of those whose step is not `known`'s."""
        with session_scope(self.store_url) as session:
            jobs = list(session.scalars(select(Job).where(Job.id.in_(list(known)))))
            moved = [j.id for j in jobs if j.step != known[j.id]]
            norms = read_norms(session, moved) if moved else {}
            return {j.id: job_view(j) for j in jobs}, norms

    async def _run(self) -> None:
        while self.jobs:
            await asyncio.sleep(self.tick_s)
            known = {job_id: w.norms_step for job_id, w in self.jobs.items()}
            if not known:
                break
            views, norms = await anyio.to_thread.run_sync(self._read, known)
            for job_id in known:
                watched = self.jobs.get(job_id)
                if watched is None:
                    continue
                view = views.get(job_id)  # None: the job was deleted
                changed = view != watched.view
                if view is not None and job_id in norms:
                    changed |= norms[job_id] != watched.norms
                    watched.norms, watched.norms_step = norms[job_id], view.progress.step
                if changed:
                    watched.view = view
                    watched.changed.set()


def _event(kind: str, data: str, seq: int) -> bytes:
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".encode()


async def _stream(
    request: Request, watcher: JobWatcher, first: JobView, norms: Norms | None
) -> AsyncIterator[bytes]:
    watched = watcher.subscribe(first, norms)
    seq, sent_status, sent_step = 0, None, None
    try:
        view: JobView | None = first
        progress = json.dumps(progress_data(first, norms))  # as this subscriber read it
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
                yield _event("progress", progress, seq)
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
            if view is not None:
                progress = watched.progress_json(view)
    finally:
        watcher.unsubscribe(first.id)


def _norms(store_url: str, job_id: str) -> Norms | None:
    with session_scope(store_url) as session:
        return read_norms(session, [job_id]).get(job_id)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `status` (the job view), `progress` "
            "(step, total, loss, norms: the latest probe's per-layer gradient norms), "
            "`deleted`; the stream ends after the terminal status.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **responses(401, 404, 429),
    },
    summary="Follow a job live",
)
async def job_events(request: Request, job: ReadJobDep) -> StreamingResponse:
    watcher: JobWatcher = request.app.state.watcher
    norms = await in_store_thread(request, _norms, watcher.store_url, job.id)
    return StreamingResponse(
        _stream(request, watcher, job_view(job), norms),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
