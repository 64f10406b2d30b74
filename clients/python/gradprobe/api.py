"""The HTTP API's envelopes (PRODUCT.md section 4): what the server sends back, torch-free.

The server declares its responses with these models and the client parses with them, so
both sides share one definition. Response models accept unknown fields: a newer server may
add some without breaking an older client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gradprobe.result import Summary, Verdict

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
    """One cell of a study: `overrides` (dotted paths into the spec -> values) applied to
    the study's base, or to `spec` when the variant gives a whole spec of its own."""

    name: str
    remedy: str | None = Field(
        None, description="The remedy this variant shows ('none: ...' for a baseline)."
    )
    compare_with: str | None = Field(None, description="The baseline variant it fixes.")
    overrides: dict[str, Any] | None = Field(
        None, description='Dotted paths into the spec and their values: {"model.depth": 50}.'
    )
    spec: dict[str, Any] | None = Field(None, description="A whole spec instead of the base.")


class StudyPreset(Open):
    """A ready study: a base spec and the variants (or the grid) to compare; it can be
    posted to `POST /v1/studies` as it is."""

    kind: Literal["study"] = "study"
    name: str
    title: str
    base: dict[str, Any]
    grid: dict[str, list[Any]] | None = None
    variants: list[StudyVariant] | None = None


Preset = Annotated[SpecPreset | StudyPreset, Field(discriminator="kind")]


class PresetList(Open):
    items: list[Preset]


StudyStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "partial"]
STUDY_STATUS_DOC = (
    "queued: every cell is queued; running: some cell is queued or running and some has "
    "started; succeeded / failed / cancelled: every cell ended so (failed: none succeeded "
    "and at least one failed); partial: every cell ended, some succeeded and some did not."
)


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudyVariantCreate(Closed):
    name: str = Field(min_length=1, max_length=200)
    remedy: str | None = Field(None, max_length=500)
    compare_with: str | None = Field(None, max_length=200)
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='Dotted paths into the spec: {"model.residual": true}.'
    )
    spec: dict[str, Any] | None = Field(
        None, description="A whole spec in place of the base (the overrides apply to it)."
    )


class StudyCreate(Closed):
    """The body of `POST /v1/studies`: a base spec and exactly one of `grid` (dotted paths
    -> lists of values; one cell per combination) or `variants` (named cells)."""

    kind: Literal["study"] | None = Field(None, description="Ignored: a preset posts as it is.")
    name: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=500)
    base: dict[str, Any] = Field(description="The spec every cell starts from.")
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] | None = None
    variants: Annotated[list[StudyVariantCreate], Field(min_length=1)] | None = None


class StudyCell(Open):
    """One cell of a study and its job."""

    variant: str
    job_id: str
    status: JobStatus
    progress: Progress
    overrides: dict[str, Any] = {}
    remedy: str | None = None
    compare_with: str | None = None


class StudyRow(Open):
    """One finished cell in the comparison table, from its result document."""

    variant: str
    job_id: str
    verdict: Verdict
    grad_ratio_first_last: float | None
    decay: float | None = Field(
        description="Gradient decay factor per time step for recurrent models, else per layer."
    )
    decay_over: Literal["layer", "timestep"] | None
    decay_per_layer: float | None
    decay_per_timestep: float | None
    loss_drop: float | None
    final_accuracy: float | None = Field(description="Accuracy at the last probe, if any.")
    step_ms: float | None = Field(description="Mean time of one training step (ms).")


class StudyLinks(Open):
    self: str
    cancel: str
    compare: str = Field(description="The comparison plot (.png; .svg works too).")


class StudyView(Open):
    """A study: its cells, their aggregated status and the comparison table."""

    id: str
    name: str | None = None
    status: StudyStatus = Field(description=STUDY_STATUS_DOC)
    created_at: datetime
    counts: dict[str, int] = Field(description="Cells by job status.")
    cells: list[StudyCell]
    table: list[StudyRow] = Field(description="The cells that have a result, in cell order.")
    links: StudyLinks


class StudyBrief(Open):
    id: str
    name: str | None = None
    status: StudyStatus
    created_at: datetime
    counts: dict[str, int]
    links: StudyLinks


class StudyList(Open):
    """A page of studies, newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[StudyBrief]
    next_cursor: str | None = None


class Health(Open):
    status: Literal["ok"] = "ok"


class Check(Open):
    ok: bool
    detail: str


class Readiness(Open):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]
