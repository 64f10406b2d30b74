"""||W|| per layer, taken with the gradients (before the update of that step): once per
probe, shared with update_ratio, which divides by it."""

from __future__ import annotations

from worker.stats.base import LayerTable, Probe, Statistic, StepContext, Vector
from worker.stats.parameters import param_sums


def weight_norms(probe: Probe, table: LayerTable) -> Vector:
    """Per-layer ||W|| at this probe, computed once (after backward, before the update)."""
    w = table.weights
    return probe.cached(
        "weight_norms", lambda: w.per_layer(param_sums(probe, table).weight_squares) ** 0.5
    )


class WeightNorm(Statistic):
    name = "weight_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        probe.put_many(self.name, self.table.weights.layers, weight_norms(probe, self.table))
