"""The gradprobe HTTP client: `Client`, `AsyncClient`, the job handles, the study resources
and the errors."""

from gradprobe.client._config import ClientConfig, PollPolicy
from gradprobe.client._retry import RetryPolicy
from gradprobe.client._sse import Event, EventsUnavailable
from gradprobe.client.client import AsyncClient, Client
from gradprobe.client.errors import (
    ApiConnectionError,
    ApiError,
    AuthError,
    BadRequest,
    Conflict,
    GradprobeError,
    JobFailed,
    NotFound,
    RateLimited,
    ServerError,
    ValidationError,
    WaitTimeout,
)
from gradprobe.client.job import AsyncJob, Job
from gradprobe.client.stats import LayerStats, Stats
from gradprobe.client.studies import AsyncStudies, Studies, StudyWaitTimeout

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AsyncClient",
    "AsyncJob",
    "AsyncStudies",
    "AuthError",
    "BadRequest",
    "Client",
    "ClientConfig",
    "Conflict",
    "Event",
    "EventsUnavailable",
    "GradprobeError",
    "Job",
    "JobFailed",
    "LayerStats",
    "NotFound",
    "PollPolicy",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Stats",
    "Studies",
    "StudyWaitTimeout",
    "ValidationError",
    "WaitTimeout",
]
