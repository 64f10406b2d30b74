"""Per-tensor L2 norms that stay exact for tiny gradients.

A 50-layer sigmoid net has gradients of 1e-30 whose float32 squares underflow to zero, so a
plain float32 norm reports 0. float64 inputs and L1 norms (no squares) are computed directly.
For float32 on the CPU, batched float32 norms are taken, and the few that come out below the
underflow bound are recomputed after an exact power-of-two rescaling (reading the values on
the host costs nothing there). On an accelerator every tensor is rescaled by the power of two
nearest its largest element, on the device: no host sync.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


class Workspace:
    """One flat buffer reused for rescaled copies. Fresh allocations of this size are new
    pages every time (the CPU allocator returns them to the OS), which costs more than the
    arithmetic."""

    def __init__(self) -> None:
        self.buffer: Tensor | None = None

    def like(self, tensors: list[Tensor]) -> list[Tensor] | None:
        """Views shaped like `tensors`, or None when they do not share a dtype and device."""
        first = tensors[0]
        if any(t.dtype != first.dtype or t.device != first.device for t in tensors):
            return None
        total = sum(t.numel() for t in tensors)
        b = self.buffer
        if b is None or b.numel() < total or b.dtype != first.dtype or b.device != first.device:
            b = self.buffer = torch.empty(total, dtype=first.dtype, device=first.device)
        views, offset = [], 0
        for t in tensors:
            views.append(b[offset : offset + t.numel()].view(t.shape))
            offset += t.numel()
        return views


def tiny_norm(numel: int) -> float:
    """With gradual underflow each float32 square is off by at most 2^-150, so a float32 norm
    of n elements is good to ~1e-7 when norm^2 >= n * 2^-126; below this, recompute."""
    return math.sqrt(numel) * 2.0**-63


def norms(tensors: list[Tensor], ord: float = 2.0, workspace: Workspace | None = None) -> Tensor:
    """Per-tensor norms as a float64 tensor (see the module docstring)."""
    if not tensors:
        return torch.zeros(0, dtype=torch.float64)
    if ord != 2.0 or all(t.dtype == torch.float64 for t in tensors):
        return torch.stack(torch._foreach_norm(tensors, ord)).double()
    if tensors[0].device.type == "cpu":
        return norms_rechecked(tensors, workspace or Workspace())
    return norms_scaled(tensors)


def norms_rechecked(tensors: list[Tensor], workspace: Workspace) -> Tensor:
    fast = torch.stack(torch._foreach_norm(tensors)).double()
    values = fast.numpy()  # a CPU tensor's own memory: no copy
    tiny = np.flatnonzero(values < np.array([tiny_norm(t.numel()) for t in tensors]))
    if not tiny.size:
        return fast
    # Scale each tiny tensor by a power of two (exact) that brings its norm near 1; a norm of
    # 0 means every square underflowed (all |x| < 2^-75), so 2^100 is safe and enough.
    exps = [100 if values[k] == 0 else min(126, -math.floor(math.log2(values[k]))) for k in tiny]
    small = [tensors[k] for k in tiny]
    scaled = workspace.like(small)
    if scaled is None:
        scaled = list(torch._foreach_mul(small, [2.0**e for e in exps]))
    else:
        for t, e, out in zip(small, exps, scaled, strict=True):
            torch.mul(t, 2.0**e, out=out)
    again = torch.stack(torch._foreach_norm(scaled)).double()
    fast[torch.from_numpy(tiny)] = again * torch.tensor(
        [2.0**-e for e in exps], dtype=torch.float64
    )
    return fast


def norms_scaled(tensors: list[Tensor]) -> Tensor:
    largest = torch.stack(torch._foreach_norm(tensors, math.inf)).double()
    exponent = torch.floor(torch.log2(largest)).clamp(-126, 126)  # 2^e stays a float32 normal
    scale = torch.where(largest > 0, torch.exp2(-exponent), torch.ones_like(largest))
    scaled = torch._foreach_mul(tensors, list(scale.float().unbind()))
    return torch.stack(torch._foreach_norm(scaled)).double() / scale
