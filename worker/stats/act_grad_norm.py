"""||dL/dh_l|| for every node output h_l: the backpropagated gradient, the flow itself
(Glorot & Bengio 2010). It can vanish while weight-gradient norms look flat, so both are kept.

A tensor hook on each output receives the full gradient (summed over every consumer of h_l).
On an accelerator it keeps a reference and all norms are taken in one batched call after
backward. On the CPU it takes the norm at once, while the gradient is still in cache:
holding every dL/dh until the end of backward would also keep the autograd engine from
reusing their memory, which costs more than the norms.

On the CPU, an output z whose only use is an activation y = f(z) whose slope can be read
off y (ReLU, tanh, sigmoid, ...) gets no hook of its own: dL/dz = dL/dy * f'(z) exactly, so
the hook on y takes both norms in one pass over dL/dy and y (worker.stats.kernels). A
Python hook per node is most of this statistic's cost; that halves them in an MLP or CNN."""

from __future__ import annotations

import math

import numpy as np
from torch import Tensor

from worker.stats.base import LayerTable, Probe, Statistic, StepContext
from worker.stats.kernels import SLOPE_FROM_OUTPUT, through_activation
from worker.stats.norms import host_norm, norms

TAKEN = "act_grad_norm/taken"  # layer -> norm taken in the hook (CPU)
KEPT = "act_grad_norm/kept"  # layer -> the gradient itself (accelerators)


class ActGradNorm(Statistic):
    name = "act_grad_norm"
    forward = True

    def bind(self, table: LayerTable) -> None:
        super().bind(table)
        # activation layer -> (the layer it is the only use of, f' as a kernel takes it)
        self.through: dict[int, tuple[int, np.ndarray]] = {}
        for k, (op, fn) in enumerate(zip(table.ops, table.activations, strict=True)):
            if op != "activation" or fn not in SLOPE_FROM_OUTPUT:
                continue
            (j,) = table.sources[k]
            if j >= 0 and j != table.output and table.consumers(j) == [k]:
                self.through[k] = (j, np.array(SLOPE_FROM_OUTPUT[fn], dtype=np.float64))
        self.derived = {j for j, _ in self.through.values()}

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        if not out.requires_grad:
            return
        rows = probe.host_array(out)
        if rows is None:
            kept: dict[int, Tensor] = probe.scratch.setdefault(KEPT, {})
            out.register_hook(lambda g: kept.__setitem__(layer, g))
            return
        if layer in self.derived:  # its activation's hook takes its norm
            return
        taken: dict[int, float] = probe.scratch.setdefault(TAKEN, {})
        if layer not in self.through:
            out.register_hook(lambda g: taken.__setitem__(layer, host_norm(g)))
            return
        source, slope = self.through[layer]

        def both(g: Tensor) -> None:
            grad = np.ascontiguousarray(g.detach().numpy()).reshape(rows.shape)
            at_y, at_z = through_activation(grad, rows, slope)
            taken[layer], taken[source] = math.sqrt(at_y), math.sqrt(at_z)

        out.register_hook(both)

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        taken: dict[int, float] = probe.scratch.pop(TAKEN, {})
        if taken:
            layers = sorted(taken)
            probe.put_many(self.name, layers, np.array([taken[j] for j in layers]))
        kept: dict[int, Tensor] = probe.scratch.pop(KEPT, {})
        if kept:
            layers = sorted(kept)
            probe.put_many(self.name, layers, norms([kept[j] for j in layers]))
