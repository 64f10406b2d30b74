"""||dL/db|| per layer, over all of a layer's bias tensors."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.parameters import param_sums


class BiasGradNorm(Statistic):
    name = "bias_grad_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        b = self.table.biases
        squares = param_sums(probe, self.table).bias_grad_squares
        probe.put_many(self.name, b.layers, b.per_layer(squares) ** 0.5)
