"""The loss and accuracy a target kind calls for."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def loss_fn(kind: str, output: Tensor, target: Tensor) -> Tensor:
    if output.dtype != torch.float64:
        output = output.float()  # autocast outputs (bf16/fp16): the loss in float32 at least
    if kind == "class":
        return F.cross_entropy(output, target)  # output (B, K), target (B,)
    if kind == "step_class":
        return F.cross_entropy(output.flatten(0, 1), target.flatten())  # (B*T, K)
    return F.mse_loss(output.to(target.dtype), target)


def accuracy(kind: str, output: Tensor, target: Tensor) -> Tensor | None:
    """Fraction of correct class predictions (every step for per-step targets); None for
    regression. A tensor: no host sync here."""
    if kind not in ("class", "step_class"):
        return None
    return (output.argmax(-1) == target).double().mean()
