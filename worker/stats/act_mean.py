"""Mean of each node's output over the batch and all units."""

from __future__ import annotations

from torch import Tensor

from worker.stats import moments
from worker.stats.base import Probe, Statistic, StepContext


class ActMean(Statistic):
    name = "act_mean"
    forward = True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        moments.observe(probe, layer, out)

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        layers, mean, _ = moments.table(probe)
        probe.put_many(self.name, layers, mean)
