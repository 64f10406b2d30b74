"""`GET /v1/studies/{id}/events`: a study's cells live, as Server-Sent Events.

It listens through the process's one `events.JobWatcher` (one store query per tick for all
the jobs anyone follows), subscribed to every cell's job. Events: `cell` (variant, job id,
status, progress with the latest per-layer norms) when a cell's status or step moves,
`status` (the aggregated status and the counts) when that changes; the stream ends once
every cell has ended. The comparison table is then at `GET /v1/studies/{id}`.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gradprobe.api import JobView
from service.api.deps import SettingsDep, TenantDep, in_store_thread
from service.api.events import KEEPALIVE_S, JobWatcher, Norms, Watched, progress_data, read_norms
from service.api.problems import ApiError, responses
from service.api.study_views import aggregate, ordered_jobs
from service.api.views import job_view
from service.store.db import session_scope
from service.store.jobs import FINAL
from service.store.studies import get_study, study_jobs

router = APIRouter(prefix="/v1/studies", tags=["studies"])
Cells = list[tuple[str, JobView, Norms | None]]


def _read(store_url: str, study_id: str, tenant: str) -> Cells | None:
    with session_scope(store_url) as session:
        study = get_study(session, study_id, tenant)
        if study is None:
            return None
        pairs = ordered_jobs(study, study_jobs(session, [study.id])[study.id])
        norms = read_norms(session, [job.id for _, job in pairs]) if pairs else {}
        return [(cell["name"], job_view(job), norms.get(job.id)) for cell, job in pairs]


def _event(kind: str, data: dict[str, Any], seq: int) -> bytes:
    return f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _cell(name: str, job_id: str, watched: Watched) -> dict[str, Any]:
    view = watched.view
    if view is None:  # the job was deleted
        return {"variant": name, "job_id": job_id, "status": "deleted", "progress": None}
    progress = progress_data(view, watched.norms)
    return {"variant": name, "job_id": job_id, "status": view.status, "progress": progress}


async def _changed(subs: dict[str, tuple[str, Watched]]) -> bool:
    """Wait until any cell changes (True) or the keep-alive interval passes (False)."""
    waits = [asyncio.create_task(w.changed.wait()) for _, w in subs.values()]
    done, pending = await asyncio.wait(
        waits, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    return bool(done)


async def _stream(
    request: Request, watcher: JobWatcher, study_id: str, cells: Cells
) -> AsyncIterator[bytes]:
    subs = {view.id: (name, watcher.subscribe(view, norms)) for name, view, norms in cells}
    sent: dict[str, Any] = {}
    seq = 0
    try:
        while True:
            for _, w in subs.values():
                w.changed.clear()  # before reading: a change from now on wakes us
            views = {job_id: w.view for job_id, (_, w) in subs.items()}
            for job_id, (name, w) in subs.items():
                cell = _cell(name, job_id, w)
                state = (cell["status"], cell["progress"] and cell["progress"]["step"])
                if sent.get(job_id) != state:
                    sent[job_id], seq = state, seq + 1
                    yield _event("cell", cell, seq)
            live = [v.status for v in views.values() if v is not None]
            status = {"id": study_id, "status": aggregate(live), "counts": dict(Counter(live))}
            if sent.get("") != status:
                sent[""], seq = status, seq + 1
                yield _event("status", status, seq)
            if all(s in FINAL for s in live):
                return
            if not await _changed(subs):
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
    finally:
        for job_id in subs:
            watcher.unsubscribe(job_id)


@router.get(
    "/{study_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events: `cell` (variant, job_id, status, progress with "
            "norms) and `status` (the study's status and counts); the stream ends when every "
            "cell ended.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **responses(401, 404, 429),
    },
    summary="Follow a study live",
)
async def study_events(
    request: Request, study_id: str, tenant: TenantDep, settings: SettingsDep
) -> StreamingResponse:
    cells = await in_store_thread(request, _read, settings.store_url, study_id, tenant)
    if cells is None:
        raise ApiError(404, "study-not-found", f"no study {study_id}")
    watcher: JobWatcher = request.app.state.watcher
    return StreamingResponse(
        _stream(request, watcher, study_id, cells),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
