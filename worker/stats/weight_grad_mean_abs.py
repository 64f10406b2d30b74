"""mean |dL/dW| per layer, over every element of the layer's weight tensors."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.weight_grad_norm import weight_grad_norms


class WeightGradMeanAbs(Statistic):
    name = "weight_grad_mean_abs"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        _, l1 = weight_grad_norms(probe, self.table)
        probe.put_many(self.name, w.layers, w.per_layer(l1) / w.numel)
