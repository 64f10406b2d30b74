"""The transport core shared by `Client` and `AsyncClient`: it builds each request and
decides, after each try, whether to try again and after how long. It does no I/O; the two
clients only send the request and sleep, in a loop of a few lines each:

    request = core.build(call)
    for attempt in count(1):
        outcome = send(request)                  # a response, or the transport error
        delay = core.retry_delay(call, attempt, outcome)
        if delay is None:
            return core.finish(outcome)          # the response, or raises its ApiError
        sleep(delay)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from gradprobe import __version__
from gradprobe.client._config import ClientConfig
from gradprobe.client._retry import parse_retry_after
from gradprobe.client.errors import ApiConnectionError, error_from_response, parse_problem

log = logging.getLogger("gradprobe.client")

Outcome = httpx.Response | httpx.TransportError
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Errors raised before the request left this machine: safe to retry whatever the method.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
USER_AGENT = f"gradprobe-python/{__version__}"


@dataclass(frozen=True)
class Call:
    """One API operation: what to send, and whether sending it twice is harmless.

    `replayable` is None for "by the method": GET, PUT and DELETE are; a POST is only when
    the operation says so (it has no side effect, or an Idempotency-Key makes it safe).
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    replayable: bool | None = None
    read_timeout: float | None = None  # for a stream: the longest wait for its next bytes

    @property
    def safe_to_repeat(self) -> bool:
        if self.replayable is not None:
            return self.replayable
        return self.method.upper() in REPLAYABLE_METHODS


class TransportCore:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    def headers(self) -> dict[str, str]:
        out = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.config.api_key:
            out["Authorization"] = f"Bearer {self.config.api_key}"
        return out

    def build(self, call: Call) -> httpx.Request:
        """The request, built once: every retry sends the same one (same Idempotency-Key)."""
        timeout = httpx.Timeout(self.config.timeout)
        if call.read_timeout is not None:
            timeout = httpx.Timeout(self.config.timeout, read=call.read_timeout)
        return httpx.Request(
            call.method,
            self.config.base_url + call.path,
            params=dict(call.params) if call.params else None,
            json=call.json,
            headers={**self.headers(), **call.headers},
            extensions={"timeout": timeout.as_dict()},
        )

    def retry_delay(self, call: Call, attempt: int, outcome: Outcome) -> float | None:
        """Seconds to wait before trying `call` again after its `attempt`-th try, or None."""
        retry = self.config.retry
        if attempt >= retry.max_attempts:
            return None
        if isinstance(outcome, httpx.Response):
            if not (call.safe_to_repeat and self._retryable(outcome)):
                return None
            delay = retry.delay(attempt, parse_retry_after(outcome.headers.get("retry-after")))
            why = f"HTTP {outcome.status_code}"
        else:
            if not (call.safe_to_repeat or isinstance(outcome, NOT_SENT)):
                return None
            delay = retry.delay(attempt)
            why = type(outcome).__name__
        log.info("%s %s: %s; retrying in %.2f s", call.method, call.path, why, delay)
        return delay

    def _retryable(self, response: httpx.Response) -> bool:
        status = response.status_code
        problem = parse_problem(response) if status == 409 else None
        return self.config.retry.retryable_status(status, problem.type if problem else None)

    @staticmethod
    def finish(outcome: Outcome) -> httpx.Response:
        """The response when it is a success; otherwise raise the matching error."""
        if isinstance(outcome, httpx.TransportError):
            raise broken(outcome) from outcome
        if outcome.is_success:
            return outcome
        raise error_from_response(outcome)


def broken(exc: httpx.TransportError) -> ApiConnectionError:
    """The client's error for a transport error (connection refused, reset, timed out)."""
    return ApiConnectionError(f"{type(exc).__name__}: {exc}")
