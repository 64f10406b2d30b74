"""||dL/dW|| per layer: the L2 norm over all of a layer's weight tensors (biases apart)."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.parameters import param_sums


class WeightGradNorm(Statistic):
    name = "weight_grad_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        squares = param_sums(probe, self.table).grad_squares
        probe.put_many(self.name, w.layers, w.per_layer(squares) ** 0.5)
