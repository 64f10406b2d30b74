"""||dL/dW|| per layer: the L2 norm over all of a layer's weight tensors (biases apart)."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext, grads_or_zeros
from worker.stats.norms import norms


class WeightGradNorm(Statistic):
    name = "weight_grad_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        squares = norms(grads_or_zeros(w.tensors)).square()
        probe.put_many(self.name, w.layers, w.per_layer(squares).sqrt())
