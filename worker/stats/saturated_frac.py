"""Fraction of a saturating activation's outputs (over batch and units) where the derivative
has fallen below 2% of its peak, read off the output y itself:
tanh: 1 - y^2 < 0.02; sigmoid: y(1 - y) < 0.02 * 0.25; softsign: (1 - |y|)^2 < 0.02."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from gradprobe.spec.common import SATURATING
from worker.stats.base import Probe, Statistic

THRESHOLD = 0.02  # of the derivative's peak
DERIVATIVE: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": lambda y: (1 - y.square()) / 1.0,
    "sigmoid": lambda y: y * (1 - y) / 0.25,
    "softsign": lambda y: (1 - y.abs()).square() / 1.0,
}


class SaturatedFrac(Statistic):
    name = "saturated_frac"
    forward = True

    def applies(self, layer: int) -> bool:
        return self.table.activations[layer] in SATURATING

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        fn = self.table.activations[layer]
        if fn in SATURATING:
            relative = DERIVATIVE[fn](out.detach().float())
            probe.put(self.name, layer, (relative < THRESHOLD).float().mean())
