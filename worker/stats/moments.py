"""Mean and standard deviation of node outputs, shared by act_mean and act_std.

In the forward pass each output x of n elements is reduced to a shift s and the sums of
d = x - s and d^2; after backward the means (s + sum d / n) and population standard
deviations (sqrt(sum d^2 / n - (sum d / n)^2)) of all layers are formed at once, in float64.
This one-pass formula loses about log2(mean square / variance) bits, hence the shift.

On the CPU the sums are two BLAS dot products on the output's own memory (with itself and
with ones), unshifted while the mean is no larger than the spread (2 mean^2 <= mean square:
at most one bit lost) and redone about the first element when it is. On an accelerator the
shift is always the first element, and the sums are three device ops with no host read.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from worker.stats.base import Probe, column
from worker.stats.norms import BLAS

RAW = "moments/raw"
Sums = tuple[Tensor | float, Tensor | float, Tensor | float, int]  # shift, sum d, sum d^2, n


def observe(probe: Probe, layer: int, out: Tensor) -> None:
    """Record the sums of `out` (once per layer, whichever statistic asks first)."""
    raw: dict[int, Sums] = probe.scratch.setdefault(RAW, {})
    if layer not in raw:
        a = probe.host_array(out)
        raw[layer] = device_sums(out.detach()) if a is None else host_sums(a)


def device_sums(x: Tensor) -> Sums:
    x = x.reshape(-1)
    x = x if x.dtype == torch.float64 else x.float()
    d = x - x[0]
    return x[0], d.sum(), torch.dot(d, d), x.numel()


@lru_cache(maxsize=16)
def ones(n: int, dtype: np.dtype) -> np.ndarray:
    return np.ones(n, dtype=dtype)


def host_sums(x: np.ndarray) -> Sums:
    a = x.reshape(-1)
    dot = BLAS[torch.float32 if a.dtype == np.float32 else torch.float64][0]
    unit = ones(a.size, a.dtype)
    total, squares = float(dot(a, unit)), float(dot(a, a))
    if 2 * total * total <= squares * a.size:
        return 0.0, total, squares, a.size
    with np.errstate(all="ignore"):  # a diverging run's inf/nan are values, not errors
        d = a - a[0]
    return float(a[0]), float(dot(d, unit)), float(dot(d, d)), a.size


def table(probe: Probe) -> tuple[list[int], Tensor, Tensor]:
    """(layers, means, population standard deviations) of every observed output."""

    def compute() -> tuple[list[int], Tensor, Tensor]:
        raw: dict[int, Sums] = probe.scratch.get(RAW, {})
        layers = sorted(raw)
        if not layers:
            empty = torch.zeros(0, dtype=torch.float64)
            return layers, empty, empty
        shift, total, squares = (column([raw[j][k] for j in layers]) for k in range(3))
        n = torch.tensor([raw[j][3] for j in layers], dtype=torch.float64).to(shift.device)
        offset = total / n  # mean of the deviations from the shift
        variance = (squares / n - offset.square()).clamp_min(0)
        return layers, shift + offset, variance.sqrt()

    return probe.cached("moments/table", compute)
