"""||W|| per layer, taken with the gradients (before the update of that step)."""

from __future__ import annotations

from torch import Tensor

from worker.stats.base import LayerTable, Probe, Statistic, StepContext
from worker.stats.norms import norms


def weight_norms(probe: Probe, table: LayerTable) -> Tensor:
    """Per-layer ||W|| at this probe, computed once and shared (update_ratio divides by it)."""
    w = table.weights

    def compute() -> Tensor:
        squares = norms([p.detach() for p in w.tensors]).square()
        return w.per_layer(squares).sqrt()

    return probe.cached("weight_norms", compute)


class WeightNorm(Statistic):
    name = "weight_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        probe.put_many(self.name, self.table.weights.layers, weight_norms(probe, self.table))
