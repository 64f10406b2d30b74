"""A claimed job's lease, renewed by a thread while the job trains.

The training loop asks `should_stop()` every step: it turns true when cancellation is
requested in the store or when the lease is lost (the job was deleted or handed to another
worker), so cancellation takes effect within one step of the next renewal.
"""

from __future__ import annotations

import logging
import threading

from service.store.db import session_scope
from service.store.jobs import Claim, renew

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, url: str, claim: Claim, lease_s: float, poll_s: float = 0.5) -> None:
        self.url, self.claim, self.lease_s = url, claim, lease_s
        self.every = min(poll_s, lease_s / 3)
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def should_stop(self) -> bool:
        return self.cancelled.is_set() or self.lost.is_set()

    def _run(self) -> None:
        while not self._done.wait(self.every):
            try:
                with session_scope(self.url) as s:
                    state = renew(s, self.claim.job_id, self.claim.token, self.lease_s)
            except Exception:  # the store may blink; the lease has slack (lease_s / every)
                log.exception("could not renew the lease of %s", self.claim.job_id)
                continue
            if state is None:
                self.lost.set()
                return
            if state:
                self.cancelled.set()
