"""||dL/dh_t|| at every time step t of the top layer of the last recurrent node: how much
gradient reaches step t, i.e. vanishing (or exploding) through time.

Hooks on each h_t keep a reference to its full gradient (through the recurrence and the
read-out); after backward the T norms are taken in one batched call."""

from __future__ import annotations

import torch
from torch import Tensor

from worker.ops import UnrolledRNN
from worker.stats.base import LayerTable, Probe, Statistic, StepContext
from worker.stats.norms import norms


class TimestepGradNorm(Statistic):
    name = "timestep_grad_norm"
    kind = "timestep"
    forward = True

    def bind(self, table: LayerTable) -> None:
        super().bind(table)
        rnns = [i for i, m in enumerate(table.modules) if isinstance(m, UnrolledRNN)]
        self.layer = rnns[-1] if rnns else None
        if self.layer is not None:
            module = table.modules[self.layer]
            assert isinstance(module, UnrolledRNN)
            self.module = module
            self.module.keep_states = True  # references only: autograd holds these anyway

    def observes(self, layer: int) -> bool:
        return layer == self.layer

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        states = self.module.states
        grads: list[Tensor | None] = [None] * len(states)
        probe.scratch[self.name] = grads
        for t, h in enumerate(states):
            if h.requires_grad:
                h.register_hook(lambda g, t=t: grads.__setitem__(t, g))

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        grads: list[Tensor | None] | None = probe.scratch.pop(self.name, None)
        if grads is None or self.layer is None:
            return
        present = [g if g is not None else torch.zeros(1, device=self.table.device) for g in grads]
        probe.put(self.name, self.layer, norms(present))
