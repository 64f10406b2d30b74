"""||dL/dh_l|| for every node output h_l: the backpropagated gradient, the flow itself
(Glorot & Bengio 2010). It can vanish while weight-gradient norms look flat, so both are kept.
Taken with a tensor hook, so it is the full gradient summed over every consumer of h_l."""

from __future__ import annotations

import torch
from torch import Tensor

from worker.stats.base import Probe, Statistic


class ActGradNorm(Statistic):
    name = "act_grad_norm"
    forward = True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        if out.requires_grad:
            out.register_hook(lambda g: self._record(probe, layer, g))

    def _record(self, probe: Probe, layer: int, grad: Tensor) -> None:
        probe.put(self.name, layer, torch.linalg.vector_norm(grad, dtype=torch.float64))
