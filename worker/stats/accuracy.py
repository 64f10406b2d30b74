"""Accuracy on the probed step's batch (every step for per-step targets); classification only.
On the CPU the output and targets are read in place by one compiled pass
(worker.stats.kernels)."""

from __future__ import annotations

import numpy as np

from worker.losses import accuracy
from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.kernels import argmax_hits
from worker.stats.norms import is_host


class Accuracy(Statistic):
    name = "accuracy"
    kind = "scalar"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        output = ctx.output.detach()
        if ctx.target_kind in ("class", "step_class") and is_host(output):
            scores = np.ascontiguousarray(output.numpy()).reshape(-1, output.shape[-1])
            labels = np.ascontiguousarray(ctx.target.numpy(), dtype=np.int64).reshape(-1)
            probe.put(self.name, -1, np.array([argmax_hits(scores, labels) / len(labels)]))
            return
        acc = accuracy(ctx.target_kind, output, ctx.target)
        if acc is not None:
            probe.put(self.name, -1, acc.double())
