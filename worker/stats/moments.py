"""Mean and variance of a node output, computed once per probe for every statistic that
needs them. Two passes (mean, then the norm of the deviations): accurate when the mean is
large against the spread, and much faster on the CPU than torch.var_mean."""

from __future__ import annotations

import torch
from torch import Tensor

from worker.stats.base import Probe


def moments(probe: Probe, layer: int, out: Tensor) -> tuple[Tensor, Tensor]:
    """(variance, mean) of `out` over every element (population variance), float32 at least."""

    def compute() -> tuple[Tensor, Tensor]:
        x = out.detach()
        x = x if x.dtype == torch.float64 else x.float()
        mean = x.mean()
        spread = torch.linalg.vector_norm(x - mean)
        return spread.square() / x.numel(), mean

    return probe.cached(f"moments/{layer}", compute)
