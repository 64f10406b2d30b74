"""Mean of each node's output over the batch and all units."""

from __future__ import annotations

from worker.stats import moments
from worker.stats.base import Probe, Statistic, StepContext


class ActMean(Statistic):
    name = "act_mean"
    forward = True

    on_output = staticmethod(moments.observe)  # shared with act_std: called once per node

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        for layers, mean, _ in moments.tables(probe):
            probe.put_many(self.name, layers, mean)
