"""Accuracy on the probed step's batch (every step for per-step targets); classification only."""

from __future__ import annotations

from worker.losses import accuracy
from worker.stats.base import Probe, Statistic, StepContext


class Accuracy(Statistic):
    name = "accuracy"
    kind = "scalar"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        acc = accuracy(ctx.target_kind, ctx.output.detach(), ctx.target)
        if acc is not None:
            probe.put(self.name, -1, acc.double())
