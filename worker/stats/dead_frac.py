"""Fraction of a rectifier's units that are dead on the whole batch: for every example the
derivative is below 2% of its peak (ReLU: output 0; leaky ReLU: negative side, slope 0.01;
ELU/SELU: deep in the negative tail). A unit is one feature (one channel-position of an
image, one feature of one time step). GELU/SiLU are not monotone, so their derivative cannot
be read off the output: no value for them. A unit is dead when even its largest output over
the batch is below the floor."""

from __future__ import annotations

from torch import Tensor

from worker.stats import relu
from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.fractions import count, put_fractions
from worker.stats.kernels import units_below

SELU_LA = 1.0507009873554805 * 1.6732632423543772  # lambda * alpha: SELU's peak slope
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
        pair = relu.reading(probe, probe.relu_inputs.get(layer))
        if pair is not None:  # read with its input
            count(probe, self.name, layer, pair.dead, pair.units)
            return
        floor, inclusive = FLOOR[self.table.activations[layer]]  # type: ignore[index]
        rows = probe.host_array(out)
        if rows is not None:
            count(probe, self.name, layer, units_below(rows, floor, inclusive), rows.shape[1])
            return
        top = out.detach().amax(dim=0)  # per unit, its largest output over the batch
        count(probe, self.name, layer, top <= floor if inclusive else top < floor, top.numel())

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        put_fractions(probe, self.name)
