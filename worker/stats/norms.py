"""Per-tensor L2 and L1 norms that stay exact for tiny gradients.

A 50-layer sigmoid net has gradients of 1e-30 whose float32 squares underflow to zero, so a
plain float32 norm reports 0. On the CPU a float32 tensor's norms are one compiled pass over
its own memory that sums in float64 (worker.stats.kernels: nothing can underflow there); a
group of contiguous ones (a layer table's weights, their gradients) is read in one call, by
address, since making a NumPy view of each tensor costs more than reading a small one; a
large group is split between torch's own threads (worker.stats.team). A float64 tensor's
are BLAS's `nrm2`, which is specified to avoid underflow and overflow (checked once at
import), and `asum`. On an accelerator every tensor is rescaled by the
power of two nearest its largest element, on the device: no host sync. float64 tensors off
the CPU, and L1 norms (no squares), are computed directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController
from torch import Tensor

from worker.stats.kernels import squares_and_abs, sum_squares, two_sums_squares_at
from worker.stats.team import squares_and_abs_at

Vector = Tensor | np.ndarray  # float64 per-layer values: host NumPy, or a device tensor

HOST_DTYPES = (torch.float32, torch.float64)
TINY = 2.0**-1022  # the smallest normal float64
RESCUE = 2.0**100  # exact; brings a result below the smallest normal back to full precision


def _blas_scales() -> bool:
    """Whether this BLAS's nrm2 keeps a norm whose squares underflow (every build seen does;
    without it the CPU takes the accelerator's rescaling path)."""
    return float(blas.dnrm2(np.full(4, 2.0**-600))) == 2.0**-599


BLAS_SCALES = _blas_scales()
# The OpenBLAS that numpy and scipy ship runs a thread pool of its own, which competes with
# torch's threads for the cores (and these calls are one layer each): keep it to one thread.
# torch's own BLAS is not among these libraries.
ThreadpoolController().select(prefix="libscipy_openblas").limit(limits=1)


def flat(t: Tensor) -> np.ndarray:
    """A CPU tensor's values as a contiguous vector: its own memory where it is contiguous."""
    return (t.detach() if t.requires_grad else t).numpy().ravel()


def host_norm(t: Tensor, ord: float = 2.0) -> float:
    """The L2 (or L1) norm of a float32/float64 CPU tensor, read in place. float64 goes to
    BLAS: a result below the smallest normal number (every element subnormal) has lost bits
    and is recomputed on a copy scaled by an exact power of two."""
    a = flat(t)
    if a.dtype == np.float32:
        return math.sqrt(sum_squares(a)) if ord == 2.0 else squares_and_abs(a)[1]
    kernel = blas.dnrm2 if ord == 2.0 else blas.dasum
    value = float(kernel(a))
    if 0 < value < TINY:
        value = float(kernel(a * RESCUE)) / RESCUE
    return value


def is_block(t: Tensor) -> bool:
    """Whether the kernels' `*_at` functions can read this tensor by address: a contiguous
    float32 CPU tensor (its values are the float32 block at data_ptr())."""
    return t.dtype is torch.float32 and is_host(t) and t.is_contiguous()


def float32_blocks(tensors: Sequence[Tensor | None]) -> tuple[np.ndarray, np.ndarray] | None:
    """Where every tensor `is_block`, the (addresses, sizes) of their memory that the kernels'
    `*_at` functions read; else None. A None (a parameter without a gradient: zero) reads
    as an empty block. For tensors the host paths take (the caller asked `is_host`); the
    caller keeps them alive while their memory is read."""
    addresses: list[int] = []
    sizes: list[int] = []
    for t in tensors:  # one loop, checks inline: a group is up to hundreds of tensors
        if t is None:
            addresses.append(0)
            sizes.append(0)
        elif t.dtype is torch.float32 and t.is_cpu and t.is_contiguous():
            addresses.append(t.data_ptr())
            sizes.append(t.numel())
        else:
            return None
    return np.array(addresses, dtype=np.int64), np.array(sizes, dtype=np.int64)


def host_norms(a: Tensor, b: Tensor) -> tuple[float, float]:
    """The L2 norms of two float32/float64 CPU tensors; two float32 ones in one call."""
    if not (is_block(a) and is_block(b)):
        return host_norm(a), host_norm(b)
    a_squares, b_squares = two_sums_squares_at(a.data_ptr(), a.numel(), b.data_ptr(), b.numel())
    return math.sqrt(a_squares), math.sqrt(b_squares)


def host_l2_and_l1(t: Tensor) -> tuple[float, float]:
    """Both norms of a float32/float64 CPU tensor; a float32 one in a single pass."""
    a = flat(t)
    if a.dtype == np.float32:
        squares, total = squares_and_abs(a)
        return math.sqrt(squares), total
    return host_norm(t), host_norm(t, 1.0)


def is_host(t: Tensor) -> bool:
    """Whether `host_norm` (and the other host-memory paths) take this tensor: a float32 or
    float64 CPU tensor, and (for float64) a BLAS whose nrm2 scales."""
    return BLAS_SCALES and t.is_cpu and t.dtype in HOST_DTYPES


def on_host(tensors: list[Tensor], ord: float = 2.0) -> bool:
    return ord in (1.0, 2.0) and all(is_host(t) for t in tensors)


def norms(tensors: list[Tensor], ord: float = 2.0, host: bool | None = None) -> Vector:
    """Per-tensor norms in float64: a NumPy array where the host paths take the tensors, else
    a tensor on their device (see the module docstring). `host`: whether
    `on_host(tensors)`, where the caller knows it already."""
    if not tensors:
        return np.zeros(0)
    if on_host(tensors, ord) if host is None else host and ord in (1.0, 2.0):
        blocks = float32_blocks(tensors)
        if blocks is None:
            return np.array([host_norm(t, ord) for t in tensors])
        if ord == 2.0:
            return np.sqrt(squares_and_abs_at(*blocks, 0)[0])
        return squares_and_abs_at(*blocks, len(tensors))[1]
    if ord != 2.0 or all(t.dtype == torch.float64 for t in tensors):
        return torch.stack(torch._foreach_norm(tensors, ord)).double()
    return norms_scaled(tensors)


def sums_of_squares(tensors: list[Tensor], host: bool | None = None) -> Vector:
    """Per-tensor squared L2 norms, as `norms` takes them: where they are summed per layer,
    no root to take per tensor and square again."""
    if tensors and (on_host(tensors) if host is None else host):
        blocks = float32_blocks(tensors)
        if blocks is not None:
            return squares_and_abs_at(*blocks, 0)[0]
    per_tensor = norms(tensors, host=host)
    return per_tensor * per_tensor


def l2_and_l1(tensors: list[Tensor], host: bool | None = None) -> tuple[Vector, Vector]:
    """Both norms of every tensor. On the CPU in one pass over each tensor where they are
    float32 (a float64 one's second pass reads it still in cache)."""
    if not tensors or not (on_host(tensors) if host is None else host):
        return norms(tensors, host=host), norms(tensors, 1.0, host)
    blocks = float32_blocks(tensors)
    if blocks is not None:
        squares, l1 = squares_and_abs_at(*blocks, len(tensors))
        return np.sqrt(squares), l1
    pairs = [host_l2_and_l1(t) for t in tensors]
    l2, l1 = np.array(pairs).T
    return l2, l1


def norms_scaled(tensors: list[Tensor]) -> Tensor:
    largest = torch.stack(torch._foreach_norm(tensors, math.inf)).double()
    exponent = torch.floor(torch.log2(largest)).clamp(-126, 126)  # 2^e stays a float32 normal
    scale = torch.where(largest > 0, torch.exp2(-exponent), torch.ones_like(largest))
    scaled = torch._foreach_mul(tensors, list(scale.float().unbind()))
    return torch.stack(torch._foreach_norm(scaled)).double() / scale
