"""||W|| per layer, taken with the gradients (before the update of that step)."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext, norms


class WeightNorm(Statistic):
    name = "weight_norm"

    def applies(self, layer: int) -> bool:
        return layer in self.table.weights.layers

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        squares = norms([p.detach() for p in w.tensors]).square()
        probe.put_many(self.name, w.layers, w.per_layer(squares).sqrt())
