"""Weight initialisation schemes (PRODUCT.md section 2), applied per weighted layer."""

from __future__ import annotations

import math
from typing import Literal, cast

import torch
from torch import nn

from gradprobe.spec.common import InitSpec

# nn.init.calculate_gain's names, as the type checker knows them
Nonlinearity = Literal["relu", "leaky_relu", "tanh", "sigmoid", "linear", "selu"]

# nn.init.calculate_gain knows these; other activations use ReLU's gain.
_GAIN_NAMES = {"relu", "leaky_relu", "tanh", "sigmoid", "linear", "selu"}


def _init_weight(w: torch.Tensor, init: InitSpec, activation: str) -> None:
    scheme = init.scheme
    fan_in = w.shape[1] * (w[0][0].numel() if w.dim() > 2 else 1)
    nonlinearity = cast(Nonlinearity, activation if activation in _GAIN_NAMES else "relu")
    if scheme == "xavier_uniform":
        nn.init.xavier_uniform_(w, gain=init.gain)
    elif scheme == "xavier_normal":
        nn.init.xavier_normal_(w, gain=init.gain)
    elif scheme == "kaiming_uniform":
        nn.init.kaiming_uniform_(w, nonlinearity=nonlinearity)
    elif scheme == "kaiming_normal":
        nn.init.kaiming_normal_(w, nonlinearity=nonlinearity)
    elif scheme == "orthogonal":
        nn.init.orthogonal_(w, gain=init.gain)
    elif scheme == "normal":
        nn.init.normal_(w, std=init.sigma_w / math.sqrt(fan_in))
    elif scheme == "lecun_normal":
        nn.init.normal_(w, std=1 / math.sqrt(fan_in))


def _init_bias(b: torch.Tensor, init: InitSpec) -> None:
    if init.scheme == "normal" and init.sigma_b > 0:
        nn.init.normal_(b, std=init.sigma_b)
    else:
        nn.init.zeros_(b)


@torch.no_grad()
def initialise(module: nn.Module, init: InitSpec, activation: str, gate_rows: int = 0) -> None:
    """Re-initialise the matrices (and biases) of one weighted layer; norms keep (1, 0).

    `gate_rows`: for recurrent cells, the hidden size; their stacked gate matrices are
    initialised one gate (one block of rows) at a time, as separate matrices.
    """
    if init.scheme == "pytorch_default":
        return
    for name, p in module.named_parameters():
        if name.endswith("bias") or "bias_" in name:
            _init_bias(p, init)
        elif p.dim() >= 2:
            if gate_rows and "weight_" in name:
                for chunk in p.split(gate_rows):
                    _init_weight(chunk, init, activation)
            else:
                _init_weight(p, init, activation)


@torch.no_grad()
def set_forget_bias(cell: nn.LSTMCell, value: float) -> None:
    """Gate order is (input, forget, cell, output); the forget gate starts at `value`."""
    h = cell.hidden_size
    if cell.bias:
        cell.bias_ih[h : 2 * h].fill_(value)
        cell.bias_hh[h : 2 * h].fill_(0.0)
