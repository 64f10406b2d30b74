"""Fraction of a rectifier's units that are dead on the whole batch: for every example the
derivative is below 2% of its peak (ReLU: output 0; leaky ReLU: negative side, slope 0.01;
ELU/SELU: deep in the negative tail). A unit is one feature (one channel-position of an
image, one feature of one time step). GELU/SiLU are not monotone, so their derivative cannot
be read off the output: no value for them."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from worker.stats.base import Probe, Statistic

SELU_LA = 1.0507009873554805 * 1.6732632423543772  # lambda * alpha: SELU's peak slope
DEAD: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": lambda y: y <= 0,
    "leaky_relu": lambda y: y < 0,
    "elu": lambda y: (y + 1.0) < 0.02,  # derivative e^z = y + 1 for z < 0; peak 1
    "selu": lambda y: (y + SELU_LA) < 0.02 * SELU_LA,  # derivative y + lambda*alpha for z < 0
}


class DeadFrac(Statistic):
    name = "dead_frac"
    forward = True

    def applies(self, layer: int) -> bool:
        return self.table.activations[layer] in DEAD

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        fn = self.table.activations[layer]
        if fn in DEAD:
            dead_everywhere = DEAD[fn](out.detach()).all(dim=0)  # per unit, over the batch
            probe.put(self.name, layer, dead_everywhere.float().mean())
