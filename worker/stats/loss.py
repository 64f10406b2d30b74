"""The training loss of the probed step's batch, before that step's update."""

from __future__ import annotations

from worker.stats.base import Probe, Statistic, StepContext


class Loss(Statistic):
    name = "loss"
    kind = "scalar"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        probe.put(self.name, -1, ctx.loss)  # the recorder reads it as float64
