"""How a command reaches the service: a `Client` from `--url` / `--api-key` (the client
itself falls back on GRADPROBE_URL / GRADPROBE_API_KEY).

Tests swap the network for an `httpx.MockTransport` by setting `WIRING` (monkeypatch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from gradprobe.client import Client, PollPolicy

# A terminal shows progress: poll every 0.25 s at first, then at most every 2 s.
CLI_POLL = PollPolicy(first=0.25, factor=1.5, cap=2.0)


@dataclass(frozen=True)
class Wiring:
    """What a test replaces: the HTTP transport, and the client's sleep and clock."""

    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] | None = None


WIRING = Wiring()  # the real network, time.sleep and time.monotonic


def connect(url: str | None, api_key: str | None) -> Client:
    wiring = WIRING
    http = httpx.Client(transport=wiring.transport) if wiring.transport is not None else None
    return Client(
        url, api_key, poll=CLI_POLL, http_client=http, sleep=wiring.sleep, clock=wiring.clock
    )
