"""||dL/dW|| per layer: the L2 norm over all of a layer's weight tensors (biases apart)."""

from __future__ import annotations

from worker.stats.base import LayerTable, Probe, Statistic, StepContext, Vector, grads_or_zeros
from worker.stats.norms import l2_and_l1


def weight_grad_norms(probe: Probe, table: LayerTable) -> tuple[Vector, Vector]:
    """Per-tensor L2 and L1 norms of the weight gradients, taken together once per probe
    (weight_grad_mean_abs needs the L1 norms)."""
    return probe.cached(
        "weight_grad_norms",
        lambda: l2_and_l1(grads_or_zeros(table.weights.tensors), table.weights.host),
    )


class WeightGradNorm(Statistic):
    name = "weight_grad_norm"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        l2, _ = weight_grad_norms(probe, self.table)
        probe.put_many(self.name, w.layers, w.per_layer(l2 * l2) ** 0.5)
