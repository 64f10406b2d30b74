"""The client's exceptions: one hierarchy, so `except GradprobeError` catches them all.

`ApiError` and its subclasses are answers from the server: each carries the HTTP status, the
RFC 9457 problem document (`Problem`, None when the body was not one) and the request id the
server sent, if any. The others are raised by the client itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError as PydanticValidationError

from gradprobe.api import JobError, Problem, ProblemError
from gradprobe.client._retry import parse_retry_after

if TYPE_CHECKING:
    from gradprobe.client.job import JobHandle

REQUEST_ID_HEADERS = ("x-request-id", "request-id")


class GradprobeError(Exception):
    """Any error raised by the gradprobe client."""


class ApiConnectionError(GradprobeError):
    """The server could not be reached, or did not answer in time (after the retries)."""


class ApiError(GradprobeError):
    """The server answered with an error status."""

    def __init__(
        self,
        status: int,
        problem: Problem | None,
        request_id: str | None = None,
        body: str = "",
        headers: httpx.Headers | None = None,
    ) -> None:
        self.status = status
        self.problem = problem
        self.request_id = request_id
        self.body = body
        self.headers = headers if headers is not None else httpx.Headers()
        super().__init__(self._message())

    @property
    def type(self) -> str:
        """The problem type (`urn:gradprobe:problem:...`), or "about:blank"."""
        return self.problem.type if self.problem else "about:blank"

    @property
    def detail(self) -> str:
        if self.problem is None:
            return self.body[:200]
        return self.problem.detail or self.problem.title

    @property
    def errors(self) -> list[ProblemError]:
        """Each bad input, with its JSON path (`$.model.depth`, `query.limit`)."""
        return list(self.problem.errors or []) if self.problem else []

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.errors]

    def _message(self) -> str:
        text = f"HTTP {self.status}: {self.detail}"
        if self.errors:
            text += " (" + "; ".join(f"{e.path}: {e.message}" for e in self.errors) + ")"
        return text


class BadRequest(ApiError):
    """A 4xx that no narrower class describes (400, 405, 413, ...)."""


class ValidationError(BadRequest):
    """422: the spec or the request is not valid; `.errors` names each bad field."""


class AuthError(ApiError):
    """401 (or 403): no API key, or a key that is not valid."""


class NotFound(ApiError):
    """404: no such job (another tenant's job is not found either)."""


class Conflict(ApiError):
    """409: the job is not in a state that allows this (already ended; no result yet)."""


class RateLimited(ApiError):
    """429: the request rate or the number of active jobs is over the tenant's limit."""

    @property
    def retry_after(self) -> float | None:
        """The server's `Retry-After`, in seconds."""
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(ApiError):
    """5xx: something went wrong on the server's side."""


class JobFailed(GradprobeError):
    """`wait()` saw the job end `failed`; `.error` is the server's account of why."""

    def __init__(self, job: JobHandle) -> None:
        self.job = job
        self.error: JobError | None = job.error
        why = f"{self.error.type}: {self.error.message}" if self.error else "no error recorded"
        super().__init__(f"job {job.id} failed: {why}")


class WaitTimeout(GradprobeError):
    """`wait()` reached its deadline before the job ended; the job goes on running."""

    def __init__(self, job: JobHandle, timeout: float) -> None:
        self.job = job
        self.timeout = timeout
        super().__init__(f"job {job.id} is still {job.status} after {timeout:g} s")


STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    422: ValidationError,
    429: RateLimited,
}


def error_class(status: int) -> type[ApiError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return ServerError if status >= 500 else BadRequest


def parse_problem(response: httpx.Response) -> Problem | None:
    try:
        raw: Any = response.json()
        return Problem.model_validate(raw)
    except (ValueError, PydanticValidationError):
        return None


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error answer, with its problem document and request id."""
    headers = response.headers
    request_id = next((headers[h] for h in REQUEST_ID_HEADERS if h in headers), None)
    cls = error_class(response.status_code)
    return cls(response.status_code, parse_problem(response), request_id, response.text, headers)
