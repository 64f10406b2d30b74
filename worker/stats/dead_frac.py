"""Fraction of a rectifier's units that are dead on the whole batch: for every example the
derivative is below 2% of its peak (ReLU: output 0; leaky ReLU: negative side, slope 0.01;
ELU/SELU: deep in the negative tail). A unit is one feature (one channel-position of an
image, one feature of one time step). GELU/SiLU are not monotone, so their derivative cannot
be read off the output: no value for them.

A ReLU's outputs are never negative, so on the CPU a unit is dead exactly when its outputs
sum to zero over the batch (a sum of non-negative numbers rounds to zero only if they all
are): one matrix-vector product, cheaper than the largest value per unit."""

from __future__ import annotations

from torch import Tensor

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.fractions import Values, count, put_fractions, unit_sums, values

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

    def observes(self, layer: int) -> bool:
        return self.table.activations[layer] in FLOOR

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        floor, inclusive = FLOOR[self.table.activations[layer]]  # type: ignore[index]
        x = values(probe, out)  # per unit, its largest output over the batch:
        top: Values
        if isinstance(x, Tensor):
            top = x.amax(dim=0)
        elif floor == 0.0 and inclusive:  # ReLU
            top = unit_sums(x)
        else:
            top = x.max(axis=0)
        count(probe, self.name, layer, top <= floor if inclusive else top < floor)

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        put_fractions(probe, self.name)
