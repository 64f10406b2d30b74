"""The result document (PRODUCT.md section 3): what a run gives back.

`metrics[name][i][j]` is the value of a per-layer statistic at `steps[i]` for `layers[j]`,
null where it does not apply (or was not finite). In JSON, numbers carry 7 significant
digits (float32's precision, which is what the network computes in); the in-memory model
keeps full precision. Unknown keys are tolerated, so newer servers can add fields.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

from gradprobe.spec import JobSpec

Verdict = Literal[
    "healthy", "vanishing", "exploding", "saturated", "dead_units", "diverged", "not_training"
]
Series = list[float | None]
Grid = list[list[float | None]]
SIGNIFICANT_DIGITS = 7


def _compact(value: Any) -> Any:
    """Round floats (recursively through lists) to SIGNIFICANT_DIGITS; non-finite -> None."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class LayerInfo(Open):
    name: str
    op: str
    index: int
    params: int
    shape: list[int] = []  # output shape per example (batch axis excluded)
    activation: str | None = None  # for activation nodes: the function
    trunk: bool = False  # counted as one layer of depth in decay fits


class Timesteps(Open):
    """||dL/dh_t|| for the recurrent layer `layer`: grad_norm[i][t] at steps[i], t = 0..T-1."""

    layer: str
    steps: list[int]
    grad_norm: Grid

    @field_serializer("grad_norm", when_used="json")
    def _round(self, v: Grid) -> Any:
        return _compact(v)


class Histograms(Open):
    """Counts of log10|g| of each layer's weight gradients in fixed bins; `zeros` counts exact
    zeros (underflowed). counts[i][j][k] at steps[i] for layers[j], bin k."""

    edges: list[float]
    steps: list[int]
    counts: list[list[list[int] | None]]
    zeros: list[list[int | None]]


class Check(Open):
    """One verdict rule: the measured value, its threshold, and whether it fired."""

    name: str
    value: float | None
    threshold: float
    triggered: bool
    explanation: str


class Summary(Open):
    verdict: Verdict
    reasons: list[str]
    grad_ratio_first_last: float | None
    act_grad_ratio_first_last: float | None = None
    decay_per_layer: float | None
    decay_per_timestep: float | None
    loss_drop: float | None
    first_nonfinite_step: int | None
    checks: list[Check] = []


class Timing(Open):
    step_ms: float
    probe_overhead: float
    probes: int = 0
    total_s: float = 0.0


class Result(Open):
    spec: JobSpec
    layers: list[LayerInfo]
    steps: list[int]
    metrics: dict[str, Grid]
    timesteps: Timesteps | None = None
    histograms: Histograms | None = None
    loss: Series
    accuracy: Series | None = None
    summary: Summary
    timing: Timing
    device: str = "cpu"
    precision: str = "fp32"
    versions: dict[str, str] = {}
    warnings: list[str] = []

    @field_serializer("metrics", when_used="json")
    def _round_metrics(self, v: dict[str, Grid]) -> Any:
        return {k: _compact(g) for k, g in v.items()}

    @field_serializer("loss", "accuracy", when_used="json")
    def _round_series(self, v: Series | None) -> Any:
        return _compact(v)

    def layer_index(self, name: str) -> int:
        """The position of layer `name` in `layers` (and so in each row of `metrics`), which
        is not `LayerInfo.index` in a document filtered to some layers."""
        for position, layer in enumerate(self.layers):
            if layer.name == name:
                return position
        raise KeyError(name)

    def series(self, metric: str, layer: str) -> Series:
        """One layer's values of `metric` over the probed steps."""
        j = self.layer_index(layer)
        return [row[j] for row in self.metrics[metric]]
