"""mean |dL/dW| per layer, over every element of the layer's weight tensors."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext, grads_or_zeros
from worker.stats.norms import norms


class WeightGradMeanAbs(Statistic):
    name = "weight_grad_mean_abs"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        l1 = w.per_layer(norms(grads_or_zeros(w.tensors), ord=1.0))
        probe.put_many(self.name, w.layers, l1 / w.numel)
