"""Small modules for graph ops that PyTorch has no single layer for."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Add(nn.Module):
    def forward(self, *xs: Tensor) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis  # including the batch axis

    def forward(self, *xs: Tensor) -> Tensor:
        return torch.cat(xs, dim=self.axis)


class GlobalPool(nn.Module):
    """(B, C, H, W) -> (B, C) or (B, T, F) -> (B, F), by mean or max."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: Tensor) -> Tensor:
        dims = (2, 3) if x.dim() == 4 else (1,)
        return x.mean(dims) if self.kind == "avg" else x.amax(dims)


class Last(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x[:, -1]  # (B, T, F) -> (B, F)


class SeqBatchNorm(nn.Module):
    """BatchNorm over features of a sequence (B, T, F), statistics over batch and time."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(x.transpose(1, 2)).transpose(1, 2)


class PosEmbed(nn.Module):
    def __init__(self, steps: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(steps, dim) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.weight


class SelfAttention(nn.Module):
    """Multi-head self-attention on (B, T, D), optionally causal."""

    def __init__(self, dim: int, heads: int, bias: bool, causal: bool) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True)
        self.causal = causal

    def forward(self, x: Tensor) -> Tensor:
        mask = None
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(
                x.shape[1], device=x.device, dtype=x.dtype
            )
        return self.mha(x, x, x, attn_mask=mask, need_weights=False, is_causal=self.causal)[0]


CELLS = {"tanh": nn.RNNCell, "relu": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class UnrolledRNN(nn.Module):
    """A stack of recurrent cells run one step at a time over (B, T, F) -> (B, T, H).

    Unrolled on purpose: with `keep_states` set, the top layer's h_t of the last forward
    are kept in `states`, so a probe can hook dL/dh_t for every t. A fused nn.LSTM
    computes the recurrence inside one kernel, and dL/dh_t would only be the part of the
    gradient arriving from outside the recurrence.
    """

    def __init__(self, cell: str, input_size: int, hidden: int, layers: int, bias: bool) -> None:
        super().__init__()
        self.cell_kind, self.hidden = cell, hidden
        kwargs = {"nonlinearity": cell} if cell in ("tanh", "relu") else {}
        self.cells = nn.ModuleList(
            CELLS[cell](input_size if i == 0 else hidden, hidden, bias=bias, **kwargs)
            for i in range(layers)
        )
        self.keep_states = False
        self.states: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        seq = list(x.unbind(1))  # T tensors of (B, F)
        for cell in self.cells:
            h = x.new_zeros(x.shape[0], self.hidden)
            c = h
            out = []
            for x_t in seq:
                if self.cell_kind == "lstm":
                    h, c = cell(x_t, (h, c))
                else:
                    h = cell(x_t, h)
                out.append(h)
            seq = out
        self.states = seq if self.keep_states else []
        return torch.stack(seq, dim=1)
