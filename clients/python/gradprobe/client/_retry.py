"""When to try a request again, and how long to wait first: pure functions of the attempt
number and the server's answer, so the sync and async clients share them and tests can
check them without a clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 409, 429})
# 409s that say a job is in a final state (or has no result yet): asking again at once
# cannot change the answer, so they are returned to the caller rather than retried.
FINAL_CONFLICTS = frozenset({"urn:gradprobe:problem:job-final", "urn:gradprobe:problem:no-result"})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date; None if absent
    or unreadable, never negative."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Retries on 408, 409, 429, 5xx and connection errors, up to `max_attempts` tries in all.

    The n-th retry waits `base_delay * 2**(n-1)` seconds, capped at `max_delay`, less a random
    part of up to `jitter` of it (so many clients do not retry in step). A `Retry-After` from
    the server is used instead when it is at most `max_retry_after` seconds.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def retryable_status(self, status: int, problem_type: str | None = None) -> bool:
        if status == 409 and problem_type in FINAL_CONFLICTS:
            return False
        return status in RETRY_STATUSES or status >= 500

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempt`-th try failed (attempt >= 1)."""
        if retry_after is not None and retry_after <= self.max_retry_after:
            return retry_after
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (1 - self.jitter * self.rand())
