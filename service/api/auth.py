"""Bearer API keys. A key is looked up by its SHA-256 digest (keys.tenant_for); the answer is
kept a couple of seconds per process, so a revoked key stops working within `ttl_s`.
Neither the secret nor its digest is ever logged."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

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
        self._looking: dict[str, asyncio.Future[str | None]] = {}  # digest -> its lookup

    def remembered(self, secret: str) -> str | None:
        """The tenant of a key looked up less than `ttl_s` ago, else None; never blocks."""
        with self._lock:
            hit = self._known.get(digest(secret))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    async def shared(self, secret: str, look_up: Callable[[], Awaitable[str | None]]) -> str | None:
        """`await look_up()` (a `tenant` lookup in the store), one per key at a time: the
        requests that miss together (all of a busy key's, each time its answer expires)
        wait for the same lookup rather than each sending its own (event loop only)."""
        key = digest(secret)
        lookup = self._looking.get(key)
        if lookup is None:
            lookup = self._looking[key] = asyncio.ensure_future(look_up())
            lookup.add_done_callback(lambda _: self._looking.pop(key, None))
        return await asyncio.shield(lookup)  # a client that goes away cancels only its wait

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
