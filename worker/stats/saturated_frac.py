"""Fraction of a saturating activation's outputs (over batch and units) where the derivative
has fallen below 2% of its peak, read off the output y itself:
tanh: 1 - y^2 < 0.02; sigmoid: y(1 - y) < 0.02 * 0.25; softsign: (1 - |y|)^2 < 0.02,
i.e. |y - centre| > radius with the (centre, radius) below."""

from __future__ import annotations

import math

from torch import Tensor

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.fractions import count, put_fractions
from worker.stats.kernels import outside_band

THRESHOLD = 0.02  # of the derivative's peak
BAND: dict[str, tuple[float, float]] = {
    "tanh": (0.0, math.sqrt(1 - THRESHOLD)),
    "sigmoid": (0.5, math.sqrt(0.25 - THRESHOLD * 0.25)),
    "softsign": (0.0, 1 - math.sqrt(THRESHOLD)),
}


class SaturatedFrac(Statistic):
    name = "saturated_frac"
    forward = True

    def observes(self, layer: int) -> bool:
        return self.table.activations[layer] in BAND

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        centre, radius = BAND[self.table.activations[layer]]  # type: ignore[index]
        rows = probe.host_array(out)
        if rows is not None:
            count(probe, self.name, layer, outside_band(rows, centre, radius), rows.size)
            return
        y = out.detach()
        count(probe, self.name, layer, (y - centre).abs() > radius, y.numel())

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        put_fractions(probe, self.name)
