"""Following a job for `--wait`: live from `GET /v1/jobs/{id}/events` (Server-Sent Events)
when the server has it, else (or if the stream breaks) by polling with `Job.wait`. Either way
the last word is `Job.wait`'s: it returns the ended job, or raises `JobFailed` or
`WaitTimeout` exactly as it would have alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from gradprobe.api import JobView, Progress
from gradprobe.cli.progress import Bar
from gradprobe.client import Client, Job
from gradprobe.client._transport import Call


def events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
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


def _stream(client: Client, job: Job, bar: Bar, deadline: float) -> None:
    path = f"/v1/jobs/{quote(job.id, safe='')}/events"
    request = client._core.build(Call("GET", path, headers={"Accept": "text/event-stream"}))
    response = client._http.send(request, stream=True)
    try:
        if response.status_code != 200:
            return  # no events here (an older server): poll instead
        for kind, data in events(response.iter_lines()):
            if kind == "deleted" or client._clock() >= deadline:
                return
            if kind == "status":
                job.view = JobView.model_validate_json(data)
                bar.job(job)
                if job.done:
                    return
            elif kind == "progress":
                p = Progress.model_validate_json(data)
                bar.update(p.step, p.total, "running", p.loss)
    finally:
        response.close()


def follow(client: Client, job: Job, bar: Bar, timeout: float) -> Job:
    """Wait at most `timeout` seconds for `job` to end, showing its progress on `bar`."""
    deadline = client._clock() + timeout
    # A broken stream is no failure: polling picks up where it stopped.
    with suppress(httpx.HTTPError, ValidationError, ValueError):
        _stream(client, job, bar, deadline)
    left = max(0.0, deadline - client._clock())
    return job.refresh().wait(timeout=left, progress=bar.job)
