"""||dL/dW|| per layer: the L2 norm over all of a layer's weight tensors (biases apart).

On the CPU each weight gradient is normed inside backward, as soon as autograd has
accumulated it (a post-accumulate-grad hook, registered for the probed step only): the
gradient is still in cache then, while after backward most of them have been evicted.
Anywhere else all norms are taken in one batched call after backward."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from worker.stats.base import LayerTable, Probe, Statistic, StepContext, grads_or_zeros
from worker.stats.norms import host_norm, l2_and_l1, on_host

TAKEN = "weight_grad_norms/taken"  # tensor index -> (L2, L1) taken inside backward
HOOKS = "weight_grad_norms/hooks"


def watch_weight_grads(probe: Probe, table: LayerTable) -> None:
    """Norm each weight gradient inside backward (CPU tensors only; once per probe)."""
    w = table.weights
    if HOOKS in probe.scratch or not on_host(w.tensors):
        return
    taken: dict[int, tuple[float, float]] = {}

    def hook(k: int) -> Callable[[Tensor], None]:
        def take(p: Tensor) -> None:
            g = p.grad
            if g is not None:
                taken[k] = (host_norm(g), host_norm(g, 1.0))

        return take

    probe.scratch[TAKEN] = taken
    probe.scratch[HOOKS] = [
        p.register_post_accumulate_grad_hook(hook(k)) for k, p in enumerate(w.tensors)
    ]


def weight_grad_norms(probe: Probe, table: LayerTable) -> tuple[Tensor, Tensor]:
    """Per-tensor L2 and L1 norms of the weight gradients, taken together once per probe
    (weight_grad_mean_abs needs the L1 norms)."""

    def compute() -> tuple[Tensor, Tensor]:
        for handle in probe.scratch.pop(HOOKS, []):
            handle.remove()
        taken: dict[int, tuple[float, float]] = probe.scratch.pop(TAKEN, {})
        grads = grads_or_zeros(table.weights.tensors)
        if not taken:
            return l2_and_l1(grads)
        pairs = [
            taken[k] if k in taken else (host_norm(g), host_norm(g, 1.0))
            for k, g in enumerate(grads)
        ]
        l2, l1 = (torch.tensor(col, dtype=torch.float64) for col in zip(*pairs, strict=True))
        return l2, l1

    return probe.cached("weight_grad_norms", compute)


class WeightGradNorm(Statistic):
    name = "weight_grad_norm"

    def on_arm(self, probe: Probe) -> None:
        watch_weight_grads(probe, self.table)

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        w = self.table.weights
        l2, _ = weight_grad_norms(probe, self.table)
        probe.put_many(self.name, w.layers, w.per_layer(l2.square()).sqrt())
