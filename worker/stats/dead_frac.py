"""Fraction of a rectifier's units that are dead on the whole batch: for every example the
derivative is below 2% of its peak (ReLU: output 0; leaky ReLU: negative side, slope 0.01;
ELU/SELU: deep in the negative tail). A unit is one feature (one channel-position of an
image, one feature of one time step). GELU/SiLU are not monotone, so their derivative cannot
be read off the output: no value for them."""

from __future__ import annotations

from torch import Tensor

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.fractions import count, put_fractions, values

SELU_LA = 1.0507009873554805 * 1.6732632423543772  # lambda * alpha: SELU's peak slope
# A unit is dead when even its largest output over the batch is below the floor:
# (floor, inclusive). ELU: derivative e^z = y + 1 for z < 0, peak 1; SELU: y + lambda*alpha.
FLOOR: dict[str, tuple[float, bool]] = {
    "relu": (0.0, True),
    "leaky_relu": (0.0, False),
    "elu": (0.02 - 1.0, False),
    "selu": (0.02 * SELU_LA - SELU_LA, False),
}


class DeadFrac(Statistic):
    name = "dead_frac"
    forward = True

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        fn = self.table.activations[layer]
        if fn in FLOOR:
            floor, inclusive = FLOOR[fn]
            x = values(out)  # per unit, its largest output over the batch:
            top = x.amax(dim=0) if isinstance(x, Tensor) else x.max(axis=0)
            count(probe, self.name, layer, top <= floor if inclusive else top < floor)

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        put_fractions(probe, self.name)
