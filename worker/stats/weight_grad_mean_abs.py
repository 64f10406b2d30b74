"""mean |dL/dW| per layer, over every element of the layer's weight tensors."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.parameters import param_sums


class WeightGradMeanAbs(Statistic):
    name = "weight_grad_mean_abs"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        l1 = param_sums(probe, self.table).grad_abs
        probe.put_many(self.name, w.layers, w.per_layer(l1) / w.numel)
