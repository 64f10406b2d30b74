"""Errors end a command with a message and an exit code, never a traceback.

Exit codes: 0 success; 1 the server refused the request, or the job failed or was
cancelled; 2 a usage error (a bad option, a missing or unreadable spec file); 3 the server
could not be reached; 4 `--wait` ran out of time (the job goes on); 130 `--wait` was
interrupted with Ctrl-C (the job goes on).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from gradprobe.client import (
    ApiConnectionError,
    ApiError,
    AuthError,
    GradprobeError,
    JobFailed,
    WaitTimeout,
)
from gradprobe.client.studies import StudyWaitTimeout

F = TypeVar("F", bound=Callable[..., Any])
FAILED, USAGE, UNREACHABLE, TIMED_OUT, INTERRUPTED = 1, 2, 3, 4, 130


class CliError(Exception):
    """A failure the command itself detected, with its exit code. `after_output`: the
    command already printed its document (with --json, the error then goes to stderr only,
    so that standard output stays one JSON document)."""

    def __init__(
        self, message: str, code: int = FAILED, after_output: bool = False, **details: Any
    ) -> None:
        super().__init__(message)
        self.code = code
        self.after_output = after_output
        self.details = details


def describe(exc: Exception) -> tuple[int, list[str], dict[str, Any]]:
    """(exit code, lines for a person, the same as JSON) of an exception we expect."""
    if isinstance(exc, ApiError):
        return _api_error(exc)
    if isinstance(exc, ApiConnectionError):
        hint = "is the service running? (--url or GRADPROBE_URL)"
        return UNREACHABLE, [f"cannot reach the service: {exc}", hint], {"message": str(exc)}
    if isinstance(exc, JobFailed):
        error = exc.error.model_dump(mode="json") if exc.error else None
        return FAILED, [str(exc)], {"message": str(exc), "job_id": exc.job.id, "error": error}
    if isinstance(exc, WaitTimeout):
        lines = [str(exc), f"follow it with: gradprobe status {exc.job.id}"]
        return TIMED_OUT, lines, {"message": str(exc), "job_id": exc.job.id}
    if isinstance(exc, StudyWaitTimeout):
        lines = [str(exc), f"follow it with: gradprobe study show {exc.study.id}"]
        return TIMED_OUT, lines, {"message": str(exc), "study_id": exc.study.id}
    if isinstance(exc, CliError):
        return exc.code, [str(exc)], {"message": str(exc), **exc.details}
    return FAILED, [str(exc)], {"message": str(exc)}


def _api_error(exc: ApiError) -> tuple[int, list[str], dict[str, Any]]:
    title = exc.problem.title if exc.problem else "error"
    lines = [f"{title} (HTTP {exc.status}): {exc.detail}"]
    lines += [f"  {e.path}: {e.message}" for e in exc.errors]
    if isinstance(exc, AuthError):
        lines.append("pass --api-key or set GRADPROBE_API_KEY")
    if exc.request_id:
        lines.append(f"request id: {exc.request_id}")
    body = exc.problem.model_dump(mode="json") if exc.problem else {"detail": exc.detail}
    return FAILED, lines, {"status": exc.status, **body}


def report(exc: Exception, as_json: bool) -> int:
    code, lines, body = describe(exc)
    if as_json and not (isinstance(exc, CliError) and exc.after_output):
        typer.echo(json.dumps({"error": body}, indent=2))
    err = Console(stderr=True, highlight=False)
    err.print(f"[bold red]error:[/] {escape(lines[0])}", soft_wrap=True)
    for line in lines[1:]:
        err.print(escape(line), soft_wrap=True)
    return code


def handled(command: F) -> F:
    """Run `command`, turning the errors we expect into a message and an exit code."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (GradprobeError, CliError) as exc:
            raise typer.Exit(report(exc, bool(kwargs.get("as_json")))) from None

    return run  # type: ignore[return-value]
