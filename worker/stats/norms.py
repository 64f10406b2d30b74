"""Per-tensor L2 and L1 norms that stay exact for tiny gradients.

A 50-layer sigmoid net has gradients of 1e-30 whose float32 squares underflow to zero, so a
plain float32 norm reports 0. On the CPU each norm is one BLAS call (`nrm2`, `asum`) on the
tensor's own memory: nrm2 is specified to avoid underflow and overflow (checked once at
import), so there is one pass per tensor and nothing to recheck; it is also no slower than
torch's float32 norm, and asum is several times faster than torch's L1. On an accelerator
every tensor is rescaled by the power of two nearest its largest element, on the device: no
host sync. float64 tensors off the CPU, and L1 norms (no squares), are computed directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController
from torch import Tensor

Kernel = Callable[[np.ndarray], float]
HOST: dict[tuple[torch.dtype, float], Kernel] = {
    (torch.float32, 2.0): blas.snrm2,
    (torch.float32, 1.0): blas.sasum,
    (torch.float64, 2.0): blas.dnrm2,
    (torch.float64, 1.0): blas.dasum,
}
RESCUE = 2.0**100  # exact; brings a result below the smallest normal back to full precision


def _blas_scales() -> bool:
    """Whether this BLAS's nrm2 keeps a norm whose squares underflow (every build seen does;
    without it the CPU takes the accelerator's rescaling path)."""
    return float(blas.snrm2(np.full(4, 2.0**-100, dtype=np.float32))) == 2.0**-99


BLAS_SCALES = _blas_scales()
# The OpenBLAS that numpy and scipy ship runs a thread pool of its own, which competes with
# torch's threads for the cores (and these calls are one layer each): keep it to one thread.
# torch's own BLAS is not among these libraries.
ThreadpoolController().select(prefix="libscipy_openblas").limit(limits=1)


def host_norm(t: Tensor, ord: float = 2.0) -> float:
    """The norm of a float32/float64 CPU tensor, read in place by BLAS. A result below the
    dtype's smallest normal number has lost bits (all elements are subnormal or zero); it is
    recomputed on a copy scaled by an exact power of two."""
    kernel = HOST[(t.dtype, ord)]
    a = t.detach().numpy().reshape(-1)
    value = float(kernel(a))
    if 0 < value < np.finfo(a.dtype).tiny:
        value = float(kernel(a * a.dtype.type(RESCUE))) / RESCUE
    return value


def on_host(tensors: list[Tensor], ord: float = 2.0) -> bool:
    """Whether `host_norm` takes these tensors (CPU float32/float64, a trustworthy BLAS)."""
    return BLAS_SCALES and all(t.device.type == "cpu" and (t.dtype, ord) in HOST for t in tensors)


def norms(tensors: list[Tensor], ord: float = 2.0) -> Tensor:
    """Per-tensor norms as a float64 tensor on the tensors' device (see the module docstring)."""
    if not tensors:
        return torch.zeros(0, dtype=torch.float64)
    if on_host(tensors, ord):
        return torch.tensor([host_norm(t, ord) for t in tensors], dtype=torch.float64)
    if ord != 2.0 or all(t.dtype == torch.float64 for t in tensors):
        return torch.stack(torch._foreach_norm(tensors, ord)).double()
    return norms_scaled(tensors)


def norms_scaled(tensors: list[Tensor]) -> Tensor:
    largest = torch.stack(torch._foreach_norm(tensors, math.inf)).double()
    exponent = torch.floor(torch.log2(largest)).clamp(-126, 126)  # 2^e stays a float32 normal
    scale = torch.where(largest > 0, torch.exp2(-exponent), torch.ones_like(largest))
    scaled = torch._foreach_mul(tensors, list(scale.float().unbind()))
    return torch.stack(torch._foreach_norm(scaled)).double() / scale
