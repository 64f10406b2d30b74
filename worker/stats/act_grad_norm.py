"""||dL/dh_l|| for every node output h_l: the backpropagated gradient, the flow itself
(Glorot & Bengio 2010). It can vanish while weight-gradient norms look flat, so both are kept.

A tensor hook on each output receives the full gradient (summed over every consumer of h_l).
On an accelerator it keeps a reference and all norms are taken in one batched call after
backward. On the CPU it takes the norm at once, while the gradient is still in cache:
holding every dL/dh until the end of backward would also keep the autograd engine from
reusing their memory, which costs more than the norms."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.norms import host_norm, norms

TAKEN = "act_grad_norm/taken"  # layer -> norm taken in the hook (CPU)
KEPT = "act_grad_norm/kept"  # layer -> the gradient itself (accelerators)


class ActGradNorm(Statistic):
    name = "act_grad_norm"
    forward = True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        if not out.requires_grad:
            return
        if probe.host_array(out) is not None:
            taken: dict[int, float] = probe.scratch.setdefault(TAKEN, {})
            out.register_hook(lambda g: taken.__setitem__(layer, host_norm(g)))
        else:
            kept: dict[int, Tensor] = probe.scratch.setdefault(KEPT, {})
            out.register_hook(lambda g: kept.__setitem__(layer, g))

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        taken: dict[int, float] = probe.scratch.pop(TAKEN, {})
        if taken:
            layers = sorted(taken)
            probe.put_many(self.name, layers, np.array([taken[j] for j in layers]))
        kept: dict[int, Tensor] = probe.scratch.pop(KEPT, {})
        if kept:
            layers = sorted(kept)
            probe.put_many(self.name, layers, norms([kept[j] for j in layers]))
