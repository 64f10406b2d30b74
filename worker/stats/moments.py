"""Mean and standard deviation of node outputs, shared by act_mean and act_std.

In the forward pass each output x of n elements is reduced to a shift s and the sums of
d = x - s and d^2; after backward the means (s + sum d / n) and population standard
deviations (sqrt(sum d^2 / n - (sum d / n)^2)) of all layers are formed at once, in float64.
This one-pass formula loses about log2(mean square / variance) bits, hence the shift.

The shift is the first element. On the CPU the sums are one compiled pass over the output's
own memory, in float64 (worker.stats.kernels); on an accelerator they are three device ops
with no host read.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from worker.stats import relu
from worker.stats.base import Probe, Vector, column, device_of, vector
from worker.stats.kernels import shifted_sums

RAW = "moments/raw"
Sums = tuple[Tensor | float, Tensor | float, Tensor | float, int]  # shift, sum d, sum d^2, n


def observe(probe: Probe, layer: int, out: Tensor) -> None:
    """Record the sums of `out` (once per layer, whichever statistic asks first)."""
    raw: dict[int, Sums] = probe.scratch.setdefault(RAW, {})
    if layer in raw:
        return
    source = relu.pair_input(probe, layer)
    pair = relu.reading(probe, source)
    if pair is not None and source is not None:  # a ReLU, or its input: one pass, kept for both
        raw[layer] = pair.z if layer == source else pair.y
        raw[probe.relu_of[source]] = pair.y  # (its ReLU, or another ReLU of the same input)
        return
    rows = probe.host_array(out)
    raw[layer] = device_sums(out.detach()) if rows is None else host_sums(rows)


def device_sums(x: Tensor) -> Sums:
    x = x.reshape(-1)
    x = x if x.dtype == torch.float64 else x.float()
    d = x - x[0]
    return x[0], d.sum(), torch.dot(d, d), x.numel()


def host_sums(rows: np.ndarray) -> Sums:
    if not rows.size:
        return 0.0, 0.0, 0.0, 0
    shift, total, squares = shifted_sums(rows)
    return shift, total, squares, rows.size


def table(probe: Probe) -> tuple[list[int], Vector, Vector]:
    """(layers, means, population standard deviations) of every observed output."""

    def compute() -> tuple[list[int], Vector, Vector]:
        raw: dict[int, Sums] = probe.scratch.get(RAW, {})
        layers = sorted(raw)
        if not layers:
            return layers, np.zeros(0), np.zeros(0)
        shift, total, squares = (column([raw[j][k] for j in layers]) for k in range(3))
        n = vector([raw[j][3] for j in layers], device_of(shift))
        offset = total / n  # mean of the deviations from the shift
        variance = (squares / n - offset * offset).clip(min=0)
        return layers, shift + offset, variance**0.5

    return probe.cached("moments/table", compute)
