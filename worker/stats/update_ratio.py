"""||W_after - W_before|| / ||W_before|| per layer: how far one optimizer step moves a layer.

The weights are copied before the step, on probed steps only (one copy of the weights).
The last probe (the final network, no update) has no value.
"""

from __future__ import annotations

import torch

from worker.stats.base import Probe, Statistic, StepContext, norms
from worker.stats.weight_norm import weight_norms


class UpdateRatio(Statistic):
    name = "update_ratio"

    def applies(self, layer: int) -> bool:
        return layer in self.table.weights.layers

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        weight_norms(probe, self.table)  # ||W_before||, shared with weight_norm
        probe.scratch[self.name] = [p.detach().clone() for p in self.table.weights.tensors]

    def after_step(self, probe: Probe, updated: bool) -> None:
        before = probe.scratch.pop(self.name, None)
        if not updated or not isinstance(before, list):
            return
        w = self.table.weights
        torch._foreach_sub_(before, [p.detach() for p in w.tensors])  # in place: W_before - W_after
        moved = w.per_layer(norms(before).square()).sqrt()
        probe.put_many(self.name, w.layers, moved / weight_norms(probe, self.table))
