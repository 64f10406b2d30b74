"""The logic of `Job.wait()`, shared by the sync and async handles: a deadline, polls that
back off to a cap, a progress callback on each change, and how each final status ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gradprobe.client._config import PollPolicy
from gradprobe.client.errors import JobFailed, WaitTimeout

if TYPE_CHECKING:
    from gradprobe.client.job import JobHandle

Clock = Callable[[], float]
FINAL = frozenset({"succeeded", "failed", "cancelled"})


class Waiter:
    """One wait: created when it starts, asked after each look at the job."""

    def __init__(self, clock: Clock, timeout: float, poll: PollPolicy) -> None:
        self.clock, self.timeout, self.poll = clock, timeout, poll
        self.deadline = clock() + timeout
        self.interval = poll.first
        self.seen: tuple[str, int] | None = None

    def changed(self, job: JobHandle) -> bool:
        """Whether the status or the step moved since the last look (true the first time)."""
        now = (job.status, job.view.progress.step)
        changed, self.seen = now != self.seen, now
        return changed

    @staticmethod
    def finished(job: JobHandle) -> bool:
        """True once the job succeeded or was cancelled; raises `JobFailed` if it failed."""
        if job.status == "failed":
            raise JobFailed(job)
        return job.status in FINAL

    def next_delay(self, job: JobHandle) -> float:
        """How long to sleep before the next look; raises `WaitTimeout` past the deadline.
        The last sleep is cut short so that the last look is at the deadline."""
        left = self.deadline - self.clock()
        if left <= 0:
            raise WaitTimeout(job, self.timeout)
        delay = min(self.interval, left)
        self.interval = min(self.poll.cap, self.interval * self.poll.factor)
        return delay
