"""Standard deviation of each node's output over the batch and all units."""

from __future__ import annotations

from torch import Tensor

from worker.stats.base import Probe, Statistic
from worker.stats.moments import moments


class ActStd(Statistic):
    name = "act_std"
    forward = True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        probe.put(self.name, layer, moments(probe, layer, out)[1])
