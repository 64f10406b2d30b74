"""Per-tenant request rate: a token bucket per tenant, in this process.

Each tenant's bucket holds up to `burst` tokens and refills at `rate` per second; a request
takes one. With several API processes each keeps its own buckets (docs/api.md)."""

from __future__ import annotations

import math
import threading
import time


class TokenBuckets:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, tenant: str) -> int:
        """0 when the request may go ahead, else the whole seconds until it may (Retry-After)."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(tenant, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[tenant] = (tokens - 1.0, now)
                return 0
            self._buckets[tenant] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))
