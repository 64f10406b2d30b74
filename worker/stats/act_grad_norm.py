"""||dL/dh_l|| for every node output h_l: the backpropagated gradient, the flow itself
(Glorot & Bengio 2010). It can vanish while weight-gradient norms look flat, so both are kept.

A tensor hook on each output receives the full gradient (summed over every consumer of h_l)
and only keeps a reference; after backward all norms are taken in one batched call."""

from __future__ import annotations

from torch import Tensor

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.norms import norms


class ActGradNorm(Statistic):
    name = "act_grad_norm"
    forward = True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        if out.requires_grad:
            grads: dict[int, Tensor] = probe.scratch.setdefault(self.name, {})
            out.register_hook(lambda g: grads.__setitem__(layer, g))

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        grads: dict[int, Tensor] = probe.scratch.pop(self.name, {})
        layers = sorted(grads)
        probe.put_many(
            self.name, layers, norms([grads[j] for j in layers], workspace=self.table.workspace)
        )
