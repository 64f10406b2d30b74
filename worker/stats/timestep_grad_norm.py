"""||dL/dh_t|| at every time step t of the top layer of the last recurrent node: how much
gradient reaches step t, i.e. vanishing (or exploding) through time."""

from __future__ import annotations

import torch
from torch import Tensor

from worker.ops import UnrolledRNN
from worker.stats.base import LayerTable, Probe, Statistic


class TimestepGradNorm(Statistic):
    name = "timestep_grad_norm"
    kind = "timestep"
    forward = True

    def bind(self, table: LayerTable) -> None:
        super().bind(table)
        rnns = [i for i, m in enumerate(table.modules) if isinstance(m, UnrolledRNN)]
        self.layer = rnns[-1] if rnns else None
        if self.layer is not None:
            self.module: UnrolledRNN = table.modules[self.layer]  # type: ignore[assignment]
            self.module.keep_states = True  # references only: autograd holds these anyway

    def applies(self, layer: int) -> bool:
        return layer == self.layer

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        if layer != self.layer:
            return
        states = self.module.states
        slots: list[Tensor | None] = [None] * len(states)
        for t, h in enumerate(states):
            if h.requires_grad:
                h.register_hook(lambda g, t=t: self._record(probe, slots, t, g))

    def _record(self, probe: Probe, slots: list[Tensor | None], t: int, grad: Tensor) -> None:
        slots[t] = torch.linalg.vector_norm(grad, dtype=torch.float64)
        if t == 0:  # backward reaches h_0 last: every slot is filled
            filled = [
                s if s is not None else torch.zeros((), dtype=torch.float64, device=grad.device)
                for s in slots
            ]
            probe.put(self.name, self.layer or 0, torch.stack(filled))
