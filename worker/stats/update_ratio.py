"""||W_after - W_before|| / ||W_before|| per layer: how far one optimizer step moves a layer.

Where the optimizer's own state gives the update exactly, no weights are copied: plain SGD
with momentum moves W by -lr * momentum_buffer, and without momentum or weight decay by
-lr * grad. For every other optimizer the weights are copied before the step (probed steps
only) and subtracted after it. The last probe (the final network, no update) has no value.
"""

from __future__ import annotations

import torch
from torch import Tensor

from worker.stats.base import Probe, Statistic, StepContext
from worker.stats.norms import sums_of_squares
from worker.stats.weight_norm import weight_norms


def state_gives_update(opt: torch.optim.Optimizer | None) -> bool:
    """Whether this optimizer's step is W -= lr * (momentum buffer, or grad) exactly."""
    if not isinstance(opt, torch.optim.SGD) or len(opt.param_groups) != 1:
        return False
    g = opt.param_groups[0]
    plain = not (g["nesterov"] or g["dampening"] or g["maximize"])
    return plain and (g["momentum"] > 0 or g["weight_decay"] == 0)


def _update_direction(opt: torch.optim.Optimizer, params: list[Tensor]) -> list[Tensor]:
    """What lr multiplies in this step's update (read after the step, before zero_grad)."""
    if opt.param_groups[0]["momentum"] > 0:
        return [opt.state[p]["momentum_buffer"] for p in params]
    return [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]


class UpdateRatio(Statistic):
    name = "update_ratio"

    def after_backward(self, probe: Probe, ctx: StepContext) -> None:
        weight_norms(probe, self.table)  # ||W_before||, shared with weight_norm
        if ctx.loss_scaling or not state_gives_update(ctx.optimizer):
            probe.scratch[self.name] = [p.detach().clone() for p in self.table.weights.tensors]

    def after_step(self, probe: Probe, ctx: StepContext, updated: bool) -> None:
        before = probe.scratch.pop(self.name, None)
        if not updated:
            return
        w = self.table.weights
        if before is None and ctx.optimizer is not None:
            lr = ctx.optimizer.param_groups[0]["lr"]
            direction = _update_direction(ctx.optimizer, w.tensors)
            moved = w.per_layer(sums_of_squares(direction, host=w.host)) ** 0.5 * lr
        elif before is not None:
            torch._foreach_sub_(before, [p.detach() for p in w.tensors])  # W_before - W_after
            moved = w.per_layer(sums_of_squares(before, host=w.host)) ** 0.5
        else:
            return
        probe.put_many(self.name, w.layers, moved / weight_norms(probe, self.table))
