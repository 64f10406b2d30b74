"""Mean and variance of a node output, computed once per probe for every statistic that
needs them (one fused kernel instead of two)."""

from __future__ import annotations

import torch
from torch import Tensor

from worker.stats.base import Probe


def moments(probe: Probe, layer: int, out: Tensor) -> tuple[Tensor, Tensor]:
    """(variance, mean) of `out` over every element, in float32 at least."""
    key = f"moments/{layer}"
    cached = probe.scratch.get(key)
    if cached is None:
        x = out.detach()
        cached = torch.var_mean(x if x.dtype == torch.float64 else x.float(), correction=0)
        probe.scratch[key] = cached
    return cached  # type: ignore[return-value]
