"""||W|| per layer, taken with the gradients (before the update of that step).

The weights do not change between a step's forward pass and its update, so on the CPU each
layer's weights are normed in the forward pass, as soon as the layer has used them (they
are still in cache then; after backward they have long been evicted). On an accelerator
all norms are taken in one batched call after backward."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from worker.stats.base import LayerTable, Probe, Statistic, StepContext, Vector
from worker.stats.norms import host_norm, norms, on_host

TAKEN = "weight_norm/taken"  # tensor index -> ||W|| taken in the forward pass


def weight_norms(probe: Probe, table: LayerTable) -> Vector:
    """Per-layer ||W|| at this probe, computed once and shared (update_ratio divides by it);
    norms taken in the forward pass are used, any others are taken now."""
    w = table.weights

    def compute() -> Vector:
        taken: dict[int, float] = probe.scratch.get(TAKEN, {})
        per_tensor: Vector
        if w.host:  # `taken` is only ever filled on this path
            per_tensor = np.array(
                [taken[k] if k in taken else host_norm(p) for k, p in enumerate(w.tensors)]
            )
        else:
            per_tensor = norms([p.detach() for p in w.tensors])
        return w.per_layer(per_tensor * per_tensor) ** 0.5

    return probe.cached("weight_norms", compute)


class WeightNorm(Statistic):
    name = "weight_norm"
    forward = True  # on the CPU: the norms of a layer's weights right after its forward

    def observes(self, layer: int) -> bool:
        members = self.table.weights.members.get(layer, [])
        return bool(members) and on_host([self.table.weights.tensors[k] for k in members])

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        taken: dict[int, float] = probe.scratch.setdefault(TAKEN, {})
        tensors = self.table.weights.tensors
        for k in self.table.weights.members[layer]:
            taken[k] = host_norm(tensors[k])

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        probe.put_many(self.name, self.table.weights.layers, weight_norms(probe, self.table))
