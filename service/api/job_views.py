"""Job views kept encoded in the API process, for the route clients poll: `GET /v1/jobs/{id}`.

A view is served from memory only while change notices are heard (service/store/changes.py):
each notice drops that job's view, and losing the notices drops them all and stops caching
until they are heard again. A read that raced a change is not kept: every read takes a
ticket (the count of notices so far) before it starts, and its view is kept only if no
notice for that job came after the ticket. So a view served from memory is at most as old
as the delivery of one notice (well under a millisecond on one host); without notices
(SQLite, or PostgreSQL while the listener reconnects) every request reads the store. The
views a notice dropped are read again together, one query per short window of notices
(`dropped`, service/api/jobs.py refresh_views), so that jobs being polled while they run
are mostly answered from memory too.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_VIEWS = 10_000  # a view is ~1-3 KB (its summary): tens of MB at most
MAX_CHANGES = 100_000


@dataclass(frozen=True)
class EncodedView:
    tenant: str
    body: bytes
    etag: str

    @classmethod
    def of(cls, tenant: str, body: bytes) -> EncodedView:
        return cls(tenant, body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


class JobViews:
    def __init__(self, max_views: int = MAX_VIEWS, max_changes: int = MAX_CHANGES) -> None:
        self.max_views, self.max_changes = max_views, max_changes
        self._lock = threading.Lock()
        self._views: dict[str, EncodedView] = {}
        self._changed: OrderedDict[str, int] = OrderedDict()  # job id -> its last notice
        self._notices = 0  # notices (and losses of them) so far
        self._floor = 0  # a view read before this notice is never kept
        self._listening = False
        self._dropped: set[str] = set()  # views dropped by a notice, not yet read again
        self.hits = self.misses = self.refreshed = 0

    @property
    def listening(self) -> bool:
        return self._listening

    def __len__(self) -> int:
        return len(self._views)

    def get(self, job_id: str) -> EncodedView | None:
        view = self._views.get(job_id)  # one dict read: atomic, no lock on the hot path
        if view is None:
            self.misses += 1
        else:
            self.hits += 1
        return view

    def ticket(self) -> int:
        """Take before reading a job from the store; hand to `keep` with what was read."""
        with self._lock:
            return self._notices

    def keep(self, job_id: str, view: EncodedView, ticket: int) -> None:
        """Remember a view read after `ticket`, unless the job changed since or notices
        are not being heard."""
        with self._lock:
            if not self._listening or max(self._floor, self._changed.get(job_id, 0)) > ticket:
                return
            if len(self._views) >= self.max_views:
                del self._views[next(iter(self._views))]  # the oldest kept
            self._views[job_id] = view

    def changed(self, job_id: str) -> None:
        """A notice: the job was updated or deleted."""
        with self._lock:
            self._notices += 1
            if self._views.pop(job_id, None) is not None and len(self._dropped) < self.max_views:
                self._dropped.add(job_id)
            self._changed[job_id] = self._notices
            self._changed.move_to_end(job_id)
            if len(self._changed) > self.max_changes:
                _, forgotten = self._changed.popitem(last=False)
                self._floor = max(self._floor, forgotten)

    def listening_changed(self, listening: bool) -> None:
        """Notices start or stop being heard: what was kept may have missed some."""
        with self._lock:
            self._notices += 1
            self._floor = self._notices
            self._views.clear()
            self._changed.clear()
            self._dropped.clear()
            self._listening = listening

    def dropped(self, job_ids: list[str]) -> list[str]:
        """Which of `job_ids` had a view that a notice dropped: the jobs clients are polling,
        worth reading again at once. Each is returned once."""
        with self._lock:
            found = [job_id for job_id in job_ids if job_id in self._dropped]
            self._dropped.difference_update(found)
        return found
