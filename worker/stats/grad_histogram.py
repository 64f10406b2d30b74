"""Histogram of log10 |dL/dW| per layer in fixed one-decade bins from 1e-40 to 1e+5; the
last entry counts exact zeros (underflow). Off by default (`probe.histograms`)."""

from __future__ import annotations

import torch

from worker.stats.base import LayerTable, Probe, Statistic, StepContext

LOW, HIGH = -40, 5
EDGES = [float(e) for e in range(LOW, HIGH + 1)]
BINS = HIGH - LOW


class GradHistogram(Statistic):
    name = "grad_histogram"
    kind = "histogram"

    def bind(self, table: LayerTable) -> None:
        super().bind(table)
        w = table.weights  # each layer's weight tensors, once per run
        self.members = [[w.tensors[k] for k in w.members[layer]] for layer in w.layers]

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        for layer, tensors in zip(self.table.weights.layers, self.members, strict=True):
            grads = [p.grad.reshape(-1) for p in tensors if p.grad is not None]
            if not grads:
                continue
            g = torch.cat(grads).abs().double()
            zeros = (g == 0).sum().double().reshape(1)
            # zeros land in the lowest bin through the clamp; take them out again (no sync)
            logs = torch.log10(g.clamp_min(10.0**LOW)).clamp(LOW, HIGH - 1e-9)
            counts = torch.histc(logs, bins=BINS, min=LOW, max=HIGH)
            counts[0] -= zeros[0]
            probe.put(self.name, layer, torch.cat([counts, zeros]))
