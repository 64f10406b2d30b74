"""||dL/db|| per layer, over all of a layer's bias tensors."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext, grads_or_zeros
from worker.stats.norms import norms


class BiasGradNorm(Statistic):
    name = "bias_grad_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        b = self.table.biases
        per_tensor = norms(grads_or_zeros(b.tensors), host=b.host)
        probe.put_many(self.name, b.layers, b.per_layer(per_tensor * per_tensor) ** 0.5)
