"""Bearer API keys. A key is looked up by its SHA-256 digest (keys.tenant_for); the answer is
kept a couple of seconds per process, so a revoked key stops working within `ttl_s`.
Neither the secret nor its digest is ever logged."""

from __future__ import annotations

import threading
import time

from service.store.db import session_scope
from service.store.keys import digest, tenant_for

TTL_S = 2.0
MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(self, store_url: str, ttl_s: float = TTL_S) -> None:
        self.store_url = store_url
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[str, float]] = {}  # digest -> (tenant, good until)
        self._lock = threading.Lock()

    def remembered(self, secret: str) -> str | None:
        """The tenant of a key looked up less than `ttl_s` ago, else None; never blocks."""
        with self._lock:
            hit = self._known.get(digest(secret))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def tenant(self, secret: str) -> str | None:
        """The tenant of a live key, or None for an unknown or revoked one."""
        key = digest(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._known.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        with session_scope(self.store_url) as session:
            tenant = tenant_for(session, secret)
        with self._lock:
            if tenant is None:
                self._known.pop(key, None)
            else:
                if len(self._known) >= MAX_ENTRIES:
                    self._known.clear()
                self._known[key] = (tenant, now + self.ttl_s)
        return tenant
