"""Mean and standard deviation of node outputs, shared by act_mean and act_std.

Each output x of n elements is reduced to a shift s and the sums of d = x - s and d^2; the
mean is s + sum d / n and the population standard deviation sqrt(sum d^2 / n - (sum d / n)^2),
in float64. This one-pass formula loses about log2(mean square / variance) bits, hence the
shift, which is the first element.

On the CPU the sums are one compiled pass over the output's own memory, in float64
(worker.stats.kernels), and the two moments are formed at once, as Python floats: the
table after backward is then one array. On an accelerator the sums are three device ops
with no host read, and the moments of all layers are formed at once after backward.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from worker.stats import relu
from worker.stats.base import Probe, Vector, column, device_of, vector
from worker.stats.kernels import shifted_sums

HOST = "moments/host"  # layer -> (mean, standard deviation), floats
DEVICE = "moments/device"  # layer -> Sums, tensors on the device
Sums = tuple[Tensor, Tensor, Tensor, int]  # shift, sum d, sum d^2, n
Moments = tuple[float, float]  # mean, population standard deviation
Table = tuple[list[int], Vector, Vector]  # layers, means, standard deviations


def observe(probe: Probe, layer: int, out: Tensor) -> None:
    """Record the moments of `out` (once per layer, whichever statistic asks first)."""
    host: dict[int, Moments] = probe.scratch.setdefault(HOST, {})
    if layer in host:
        return
    source = relu.pair_input(probe, layer)
    pair = relu.reading(probe, source)
    if pair is not None and source is not None:  # a ReLU, or its input: one pass, kept for both
        y = host[probe.relu_of[source]] = from_sums(*pair.y)  # its ReLU (or another's)
        host[layer] = from_sums(*pair.z) if layer == source else y
        return
    rows = probe.host_array(out)
    if rows is None:
        probe.scratch.setdefault(DEVICE, {})[layer] = device_sums(out.detach())
    elif rows.size:  # an empty output has no moments
        shift, total, squares = shifted_sums(rows)
        host[layer] = from_sums(shift, total, squares, rows.size)


def from_sums(shift: float, total: float, squares: float, n: int) -> Moments:
    """(mean, population standard deviation) from the shifted sums of n > 0 values (NaN and
    infinity propagate, as NumPy's would)."""
    offset = total / n  # mean of the deviations from the shift
    variance = squares / n - offset * offset
    return shift + offset, 0.0 if variance <= 0 else math.sqrt(variance)


def device_sums(x: Tensor) -> Sums:
    x = x.reshape(-1)
    x = x if x.dtype == torch.float64 else x.float()
    d = x - x[0]
    return x[0], d.sum(), torch.dot(d, d), x.numel()


def tables(probe: Probe) -> list[Table]:
    """(layers, means, population standard deviations) of every observed output: one table
    for the outputs read on the host paths, one for those on an accelerator (a run's
    outputs are normally all of one kind)."""

    def compute() -> list[Table]:
        parts: list[Table] = []
        host: dict[int, Moments] = probe.scratch.get(HOST, {})
        if host:
            layers = sorted(host)
            both = np.array([host[j] for j in layers])
            parts.append((layers, both[:, 0], both[:, 1]))
        sums: dict[int, Sums] = probe.scratch.get(DEVICE, {})
        if sums:
            layers = sorted(sums)
            shift, total, squares = (column([sums[j][k] for j in layers]) for k in range(3))
            n = vector([sums[j][3] for j in layers], device_of(shift))
            offset = total / n
            variance = (squares / n - offset * offset).clip(min=0)
            parts.append((layers, shift + offset, variance**0.5))
        return parts

    return probe.cached("moments/tables", compute)
