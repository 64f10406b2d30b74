"""Following a job or a study for `--wait`: live from its Server-Sent Events
(`GET /v1/jobs/{id}/events`, `GET /v1/studies/{id}/events`) when the server sends them, else
(or if the stream breaks) by polling. Either way the last word is the poll's: `Job.wait`
returns the ended job or raises `JobFailed` / `WaitTimeout` exactly as it would alone, and
`Studies.wait` returns the ended study (with its table) or raises `StudyWaitTimeout`."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing, suppress
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from gradprobe.api import JobView, Progress, StudyView
from gradprobe.cli.progress import Bar
from gradprobe.client import Client, Job
from gradprobe.client._transport import Call
from gradprobe.client.studies import FINAL, Studies

BROKEN = (httpx.HTTPError, ValidationError, ValueError, KeyError, TypeError)
CellState = tuple[str, int, int]  # status, step, total
ENDED = ("succeeded", "failed", "cancelled", "deleted")


def events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each event in a text/event-stream, and (":", comment) for each
    comment (the server's keep-alive: a chance to look at the clock)."""
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", []
        elif line.startswith(":"):
            yield ":", line[1:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def _stream(client: Client, path: str, deadline: float) -> Generator[tuple[str, str], None, None]:
    """The events at `path` until the stream ends or the deadline passes; nothing when the
    server has no such stream (an older server)."""
    request = client._core.build(Call("GET", path, headers={"Accept": "text/event-stream"}))
    response = client._http.send(request, stream=True)
    try:
        if response.status_code != 200:
            return
        for kind, data in events(response.iter_lines()):
            if client._clock() >= deadline:
                return
            if kind != ":":
                yield kind, data
    finally:
        response.close()


def _job_events(client: Client, job: Job, bar: Bar, deadline: float) -> None:
    path = f"/v1/jobs/{quote(job.id, safe='')}/events"
    with closing(_stream(client, path, deadline)) as stream:
        for kind, data in stream:
            if kind == "status":
                job.view = JobView.model_validate_json(data)
                bar.job(job)
                if job.done:
                    return
            elif kind == "progress":
                p = Progress.model_validate_json(data)
                bar.update(p.step, p.total, "running", p.loss)
            elif kind == "deleted":
                return


def follow(client: Client, job: Job, bar: Bar, timeout: float) -> Job:
    """Wait at most `timeout` seconds for `job` to end, showing its progress on `bar`."""
    deadline = client._clock() + timeout
    with suppress(*BROKEN):  # a broken stream: polling picks up where it stopped
        _job_events(client, job, bar, deadline)
    left = max(0.0, deadline - client._clock())
    return job.refresh().wait(timeout=left, progress=bar.job)


def show_cells(bar: Bar, cells: Iterable[CellState]) -> None:
    """A study on one bar: the steps of all its cells, and how many cells have ended."""
    states = list(cells)
    ended = sum(status in ENDED for status, _, _ in states)
    done, total = sum(s[1] for s in states), sum(s[2] for s in states)
    bar.update(done, total, f"{ended}/{len(states)} cells ended")


def study_cells(view: StudyView) -> dict[str, CellState]:
    return {c.job_id: (c.status, c.progress.step, c.progress.total) for c in view.cells}


def _study_events(client: Client, view: StudyView, bar: Bar, deadline: float) -> None:
    cells = study_cells(view)
    path = f"/v1/studies/{quote(view.id, safe='')}/events"
    with closing(_stream(client, path, deadline)) as stream:
        for kind, data in stream:
            doc: dict[str, Any] = json.loads(data)
            if kind == "cell":
                p = doc.get("progress") or {}
                old = cells.get(doc["job_id"], ("queued", 0, 0))
                cells[doc["job_id"]] = (
                    doc["status"],
                    p.get("step", old[1]),
                    p.get("total", old[2]),
                )
                show_cells(bar, cells.values())
            elif kind == "status" and doc.get("status") in FINAL:
                return


def follow_study(client: Client, view: StudyView, bar: Bar, timeout: float) -> StudyView:
    """Wait at most `timeout` seconds for every cell of the study to end; returns its view
    (with the comparison table)."""
    deadline = client._clock() + timeout
    show_cells(bar, study_cells(view).values())
    with suppress(*BROKEN):
        _study_events(client, view, bar, deadline)
    left = max(0.0, deadline - client._clock())
    progress = lambda v: show_cells(bar, study_cells(v).values())  # noqa: E731
    return Studies(client).wait(view.id, left, progress=progress)
