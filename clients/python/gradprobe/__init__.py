"""gradprobe: see how gradients flow through a network before you train it for a week.

This package holds the torch-free contract shared by the server, the worker and the
client: the spec models (what a user posts), the result model (what comes back), the
family-to-graph expansion and the shape inference that validates a spec without torch.
The HTTP client (`Client`, `AsyncClient` and its errors, in `gradprobe.client`) is loaded
on first use, so that importing the contract stays cheap and needs no httpx.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from gradprobe.errors import SpecError
from gradprobe.result import Result
from gradprobe.spec import JobSpec

if TYPE_CHECKING:
    from gradprobe.client import (
        ApiConnectionError,
        ApiError,
        AsyncClient,
        AsyncJob,
        AuthError,
        BadRequest,
        Client,
        Conflict,
        EventsUnavailable,
        GradprobeError,
        Job,
        JobFailed,
        NotFound,
        RateLimited,
        ServerError,
        Stats,
        StudyWaitTimeout,
        ValidationError,
        WaitTimeout,
    )

__version__ = "0.1.0"

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "AuthError",
    "BadRequest",
    "Client",
    "Conflict",
    "EventsUnavailable",
    "GradprobeError",
    "Job",
    "JobFailed",
    "JobSpec",
    "NotFound",
    "RateLimited",
    "Result",
    "ServerError",
    "SpecError",
    "Stats",
    "StudyWaitTimeout",
    "ValidationError",
    "WaitTimeout",
]
# Loaded from gradprobe.client on first use (see the module docstring).
_CLIENT_NAMES = frozenset(__all__) - {"JobSpec", "Result", "SpecError"}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        return getattr(import_module("gradprobe.client"), name)
    raise AttributeError(f"module 'gradprobe' has no attribute {name!r}")
