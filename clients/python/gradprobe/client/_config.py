"""Where the client connects and how it behaves: from arguments first, then from the
environment (GRADPROBE_URL, GRADPROBE_API_KEY), then defaults. Read once, when a client is
made."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gradprobe.client._retry import RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "GRADPROBE_URL"
KEY_ENV = "GRADPROBE_API_KEY"


@dataclass(frozen=True)
class PollPolicy:
    """How `Job.wait()` polls: first after `first` seconds, then `factor` times longer each
    time, never longer than `cap` seconds (which bounds the requests a waiting client sends)."""

    first: float = 0.5
    factor: float = 1.5
    cap: float = 5.0


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ClientConfig:
        """Arguments win over the environment, which wins over the defaults."""
        env = os.environ if env is None else env
        url = base_url or env.get(URL_ENV) or DEFAULT_URL
        return cls(
            base_url=url.rstrip("/"),
            api_key=api_key or env.get(KEY_ENV) or None,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            poll=poll or PollPolicy(),
        )
