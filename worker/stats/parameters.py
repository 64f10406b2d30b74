"""The sums over parameter tensors that five statistics share, read once per probe after
backward: the squares and absolute values of the weight gradients (weight_grad_norm,
weight_grad_mean_abs), the squares of the bias gradients (bias_grad_norm) and of the weights
before the update (weight_norm, and update_ratio, which divides by it).

They are kept per tensor as sums, not norms: a layer's norm is the root of its tensors'
summed squares, so a root taken per tensor would only be squared again. On the host paths,
where every parameter is a contiguous float32 CPU tensor, the four are one compiled call
over all their memory (worker.stats.team.squares_and_abs_at, on torch's threads).
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.stats.base import LayerTable, Probe, Vector, grads_or_zeros
from worker.stats.norms import float32_blocks, l2_and_l1, sums_of_squares
from worker.stats.team import squares_and_abs_at


@dataclass
class ParamSums:
    grad_squares: Vector  # per weight tensor: the sum of its gradient's squares
    grad_abs: Vector  # per weight tensor: the sum of its gradient's absolute values
    bias_grad_squares: Vector  # per bias tensor: the sum of its gradient's squares
    weight_squares: Vector  # per weight tensor: the sum of its squares


def param_sums(probe: Probe, table: LayerTable) -> ParamSums:
    """This probe's sums, read the first time a statistic asks (after backward, before the
    update)."""
    return probe.cached("parameters/sums", lambda: _read(table))


def _read(table: LayerTable) -> ParamSums:
    w, b = table.weights, table.biases
    if w.host and b.host:
        grads = [p.grad for p in w.tensors]  # None: an unused parameter, a zero gradient
        bias_grads = [p.grad for p in b.tensors]
        blocks = float32_blocks([*grads, *bias_grads, *w.tensors])
        if blocks is not None:
            squares, totals = squares_and_abs_at(*blocks, len(grads))
            n, m = len(grads), len(bias_grads)
            return ParamSums(squares[:n], totals[:n], squares[n : n + m], squares[n + m :])
    l2, l1 = l2_and_l1(grads_or_zeros(w.tensors), w.host)
    weights = w.tensors if w.host else [p.detach() for p in w.tensors]
    return ParamSums(
        l2 * l2,
        l1,
        sums_of_squares(grads_or_zeros(b.tensors), host=b.host),
        sums_of_squares(weights, host=w.host),
    )
