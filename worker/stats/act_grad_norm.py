"""||dL/dh_l|| for every node output h_l: the backpropagated gradient, the flow itself
(Glorot & Bengio 2010). It can vanish while weight-gradient norms look flat, so both are kept.

A tensor hook on each output receives the full gradient (summed over every consumer of h_l).
On an accelerator it keeps a reference and all norms are taken in one batched call after
backward. On the CPU it takes the norm at once, while the gradient is still in cache:
holding every dL/dh until the end of backward would also keep the autograd engine from
reusing their memory, which costs more than the norms.

On the CPU, an output z whose only use is an activation y = f(z) computed by one autograd
node (every activation but softsign and the identity) gets no hook of its own: a hook on
that node sees what goes in and what comes out of it, dL/dy and dL/dz, and takes both norms
while both are in cache. A Python hook per node is most of this statistic's cost; that
halves them in an MLP or CNN."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from worker.stats.base import LayerTable, Probe, Statistic, StepContext
from worker.stats.norms import host_norm, host_norms, is_host, norms

TAKEN = "act_grad_norm/taken"  # layer -> norm taken in the hook (CPU)
KEPT = "act_grad_norm/kept"  # layer -> the gradient itself (accelerators)
# activations whose output's autograd node has the activation's input as its only input
ONE_NODE = {"relu", "leaky_relu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid"}


class ActGradNorm(Statistic):
    name = "act_grad_norm"
    forward = True

    def bind(self, table: LayerTable) -> None:
        super().bind(table)
        self.through: dict[int, int] = {}  # activation layer -> the layer it is the only use of
        for k, (op, fn) in enumerate(zip(table.ops, table.activations, strict=True)):
            if op != "activation" or fn not in ONE_NODE:
                continue
            (j,) = table.sources[k]
            if j >= 0 and j != table.output and table.consumers(j) == [k]:
                self.through[k] = j
        self.derived = set(self.through.values())

    def observes(self, layer: int) -> bool:
        """Every output but, on the host paths, a derived one: its activation's hook takes
        its norm (on an accelerator it is kept like any other)."""
        return not (self.table.weights.host and layer in self.derived)

    def on_output(self, probe: Probe, layer: int, out: Tensor) -> None:
        if not out.requires_grad:
            return
        if not is_host(out):
            kept: dict[int, Tensor] = probe.scratch.setdefault(KEPT, {})
            out.register_hook(lambda g: kept.__setitem__(layer, g))
            return
        taken: dict[int, float] = probe.scratch.setdefault(TAKEN, {})
        node = out.grad_fn
        if layer not in self.through or node is None or len(node.next_functions) != 1:
            out.register_hook(lambda g: taken.__setitem__(layer, host_norm(g)))
            return
        source = self.through[layer]

        def both(grad_in: Sequence[Tensor | None], grad_out: Sequence[Tensor | None]) -> None:
            at_y, at_z = grad_out[0], grad_in[0]
            if at_y is not None and at_z is not None:
                taken[layer], taken[source] = host_norms(at_y, at_z)
            elif at_y is not None:
                taken[layer] = host_norm(at_y)

        node.register_hook(both)

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        taken: dict[int, float] = probe.scratch.pop(TAKEN, {})
        if taken:
            layers = sorted(taken)
            probe.put_many(self.name, layers, np.array([taken[j] for j in layers]))
        kept: dict[int, Tensor] = probe.scratch.pop(KEPT, {})
        if kept:
            layers = sorted(kept)
            probe.put_many(self.name, layers, norms([kept[j] for j in layers]))
