"""Standard deviation (population) of each node's output over the batch and all units."""

from __future__ import annotations

from worker.stats import moments
from worker.stats.base import Probe, Statistic, StepContext


class ActStd(Statistic):
    name = "act_std"
    forward = True

    on_output = staticmethod(moments.observe)  # shared with act_mean: called once per node

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        for layers, _, std in moments.tables(probe):
            probe.put_many(self.name, layers, std)
