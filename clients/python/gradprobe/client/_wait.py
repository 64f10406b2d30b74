"""The logic of the waits (`Job.wait()`, `studies.wait()`), shared by the sync and async
clients: a deadline; live events while the server streams them, polls that back off to a cap
when it does not (or the stream breaks); a progress callback on each change; and how each
final status ends. No I/O here: the clients' `_follow` reads the stream, the waits poll.

A stream is opened with a read timeout of at most `IDLE_S` (a silent stream is held up by a
proxy that buffers: the wait polls instead) and at most the time left; it is opened again
with the time left when a read could otherwise outlast the deadline by more than a second.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from gradprobe.api import JobView, Progress, StudyView
from gradprobe.client._config import PollPolicy
from gradprobe.client._sse import IDLE_S, Event, EventsUnavailable
from gradprobe.client.errors import ApiConnectionError, ApiError, JobFailed

if TYPE_CHECKING:
    from gradprobe.client.job import JobHandle

Clock = Callable[[], float]
FINAL = frozenset({"succeeded", "failed", "cancelled"})
STUDY_FINAL = FINAL | {"partial"}
# What makes a wait leave the stream for polling: no stream (an older server, 404/405/501, a
# proxy's page), a broken or silent one, an event it cannot read, a job deleted under it.
# Polling then has the last word: a real error (401, 404) is raised by the next look.
STREAM_BROKEN = (ApiError, ApiConnectionError, EventsUnavailable, ValueError, KeyError, TypeError)
REOPEN_SLACK_S = 1.0


class Waiter:
    """One wait: created when it starts, asked after each look at what it waits for."""

    def __init__(self, clock: Clock, timeout: float, poll: PollPolicy) -> None:
        self.clock, self.timeout, self.poll = clock, timeout, poll
        self.deadline = clock() + timeout
        self.interval = poll.first
        self.seen: Hashable = None

    def changed(self, state: Hashable) -> bool:
        """Whether `state` moved since the last look (true the first time)."""
        changed, self.seen = state != self.seen, state
        return changed

    def left(self) -> float:
        return self.deadline - self.clock()

    def next_delay(self) -> float | None:
        """How long to sleep before the next poll; None past the deadline. The last sleep is
        cut short so that the last look is at the deadline."""
        left = self.left()
        if left <= 0:
            return None
        delay = min(self.interval, left)
        self.interval = min(self.poll.cap, self.interval * self.poll.factor)
        return delay

    def read_timeout(self) -> float | None:
        """For a stream opened now: the longest wait for its next line; None past the deadline."""
        left = self.left()
        return None if left <= 0 else min(IDLE_S, left)

    def stream_over(self, read_s: float) -> bool:
        """Whether to leave a stream opened with `read_s`: past the deadline, or when its next
        read could end more than a second after it (it is then opened again)."""
        left = self.left()
        return left <= 0 or read_s > left + REOPEN_SLACK_S


def job_state(job: JobHandle) -> Hashable:
    return job.status, job.view.progress.step


def job_finished(job: JobHandle) -> bool:
    """True once the job succeeded or was cancelled; raises `JobFailed` if it failed."""
    if job.status == "failed":
        raise JobFailed(job)
    return job.status in FINAL


def job_event(view: JobView, event: Event) -> JobView:
    """The job's view after one event of `GET /v1/jobs/{id}/events`."""
    if event.kind == "status":
        return JobView.model_validate(event.data)
    if event.kind == "progress":
        return view.model_copy(update={"progress": Progress.model_validate(event.data)})
    if event.kind == "deleted":
        raise EventsUnavailable(f"job {view.id} was deleted")  # the next poll says NotFound
    return view


def study_state(view: StudyView) -> Hashable:
    return view.status, tuple((c.status, c.progress.step) for c in view.cells)


def study_event(view: StudyView, event: Event) -> StudyView:
    """The study's view after one event of `GET /v1/studies/{id}/events` (its table is only
    in `GET /v1/studies/{id}`: fetch it once the status is final)."""
    data: Any = event.data
    if event.kind == "status":
        return view.model_copy(update={"status": data["status"], "counts": data["counts"]})
    if event.kind != "cell":
        return view
    if data["status"] == "deleted":
        raise EventsUnavailable(f"job {data['job_id']} of study {view.id} was deleted")
    update = {"status": data["status"], "progress": Progress.model_validate(data["progress"])}
    cells = [c.model_copy(update=update) if c.job_id == data["job_id"] else c for c in view.cells]
    return view.model_copy(update={"cells": cells})
