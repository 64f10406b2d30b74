"""The HTTP API's envelopes (PRODUCT.md section 4): what the server sends back, torch-free.

The server declares its responses with these models and the client parses with them, so
both sides share one definition. Response models accept unknown fields: a newer server may
add some without breaking an older client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gradprobe.result import Summary

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Queue = Literal["gpu", "cpu"]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemError(Open):
    """One bad field: `path` is a JSON path into the request body ("$.model.depth"), or
    `query.<name>` / `header.<name>` for a query parameter or a header."""

    path: str
    message: str
    type: str


class Problem(Open):
    """An error, as RFC 9457 `application/problem+json`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = None


class Progress(Open):
    step: int = Field(description="The latest step the worker reported.")
    total: int = Field(description="train.steps of the spec.")
    loss: float | None = Field(None, description="The loss at the latest probe.")


class JobError(Open):
    """Why a job failed: `type` (spec_error, time_limit, worker_lost or an exception name)."""

    type: str
    message: str


class JobLinks(Open):
    self: str
    stats: str
    cancel: str


class JobView(Open):
    """A job as the API shows it."""

    id: str
    name: str | None = None
    status: JobStatus
    queue: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = Field(description="How many times a worker has started this job.")
    cancel_requested: bool = False
    progress: Progress
    summary: Summary | None = Field(None, description="When the job has a result.")
    error: JobError | None = Field(None, description="When the job failed.")
    links: JobLinks


class JobList(Open):
    """A page of jobs, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[JobView]
    next_cursor: str | None = None


class PlannedLayer(Open):
    name: str
    op: str
    inputs: list[str]
    shape: list[int] = Field(description="Output shape per example (batch axis excluded).")
    params: int
    flops: int = Field(description="Forward FLOPs per example.")


class PlanView(Open):
    """A dry run of a spec: what would be built, and what it would cost."""

    valid: Literal[True] = True
    spec: dict[str, Any] = Field(description="The spec with every default filled in.")
    layers: list[PlannedLayer]
    output: str
    params: int
    flops: int = Field(description="Forward FLOPs per example.")
    activation_bytes: int = Field(
        description="Estimated activations kept for backward, for a whole batch."
    )


class SpecPreset(Open):
    kind: Literal["spec"] = "spec"
    name: str
    title: str
    spec: dict[str, Any]


class StudyVariant(Open):
    name: str
    remedy: str = Field(description="The remedy this variant shows ('none: ...' for a baseline).")
    compare_with: str | None = Field(None, description="The baseline variant it fixes.")
    spec: dict[str, Any]


class StudyPreset(Open):
    """A ready study: a base spec and the variants to compare with it."""

    kind: Literal["study"] = "study"
    name: str
    title: str
    base: dict[str, Any]
    variants: list[StudyVariant]


Preset = Annotated[SpecPreset | StudyPreset, Field(discriminator="kind")]


class PresetList(Open):
    items: list[Preset]


class Health(Open):
    status: Literal["ok"] = "ok"


class Check(Open):
    ok: bool
    detail: str


class Readiness(Open):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]
