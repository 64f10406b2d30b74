"""Plan -> torch.nn.Module. Layer names are the plan's node names, in depth order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gradprobe.plan import Plan
from gradprobe.shapes import Shape
from gradprobe.spec.common import InitSpec
from gradprobe.spec.graph import ActivationNode, RnnNode
from worker.init import initialise, set_forget_bias
from worker.ops import (
    Add,
    Concat,
    GlobalPool,
    Last,
    PosEmbed,
    SelfAttention,
    SeqBatchNorm,
    UnrolledRNN,
)

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softsign": nn.Softsign,
    "linear": nn.Identity,
}
Observer = Callable[[list[Tensor]], None]


def _norm(kind: str, shape: Shape) -> nn.Module:
    if kind == "batch":
        return {
            1: lambda: nn.BatchNorm1d(shape[0]),
            2: lambda: SeqBatchNorm(shape[1]),
            3: lambda: nn.BatchNorm2d(shape[0]),
        }[len(shape)]()
    if kind == "layer":
        return nn.GroupNorm(1, shape[0]) if len(shape) == 3 else nn.LayerNorm(shape[-1])
    return nn.RMSNorm(shape[-1])


def _concat(n: Any, x: Shape) -> nn.Module:
    axis = (0 if len(x) == 3 else len(x) - 1) if n.axis is None else n.axis % len(x)
    return Concat(axis + 1)  # +1: the batch axis


# One constructor per op, from the node and its (first) input shape.
MODULES: dict[str, Callable[[Any, Shape], nn.Module]] = {
    "linear": lambda n, x: nn.Linear(x[-1], n.out_features, bias=n.bias),
    "conv2d": lambda n, x: nn.Conv2d(
        x[0],
        n.out_channels,
        n.kernel,
        n.stride,
        n.kernel // 2 if n.padding == "same" else 0,
        bias=n.bias,
    ),
    "conv_transpose2d": lambda n, x: nn.ConvTranspose2d(x[0], n.out_channels, 2, 2, bias=n.bias),
    "norm": lambda n, x: _norm(n.kind, x),
    "activation": lambda n, x: ACTIVATIONS[n.fn](),
    "add": lambda n, x: Add(),
    "concat": _concat,
    "pool": lambda n, x: nn.MaxPool2d(n.kernel) if n.kind == "max" else nn.AvgPool2d(n.kernel),
    "global_pool": lambda n, x: GlobalPool(n.kind),
    "upsample": lambda n, x: nn.Upsample(scale_factor=2, mode="nearest"),
    "flatten": lambda n, x: nn.Flatten(),
    "dropout": lambda n, x: nn.Dropout(n.p),
    "rnn": lambda n, x: UnrolledRNN(n.cell, x[1], n.hidden, n.layers, n.bias),
    "last": lambda n, x: Last(),
    "attention": lambda n, x: SelfAttention(x[1], n.heads, n.bias, n.causal),
    "pos_embed": lambda n, x: PosEmbed(x[0], x[1]),
}


class GraphNet(nn.Module):
    """Runs the plan's nodes in depth order. `observer`, when set (only on probed steps),
    sees every node's output, in order, once the forward pass is done (they are all held
    until then anyway): that is where activation statistics and dL/dh hooks attach."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.names = [layer.name for layer in plan.layers]
        position = {name: i for i, name in enumerate(self.names)}
        position["input"] = -1
        shapes = {layer.name: layer.shape for layer in plan.layers} | {"input": plan.data.input}
        self.sources = [[position[i] for i in layer.inputs] for layer in plan.layers]
        self.nodes = nn.ModuleList(
            MODULES[la.op](la.node, shapes[la.inputs[0]]) for la in plan.layers
        )
        self.output = position[plan.output]
        self.observer: Observer | None = None

    def forward(self, x: Tensor) -> Tensor:
        outs: list[Tensor] = []
        for node, sources in zip(self.nodes, self.sources, strict=True):
            outs.append(node(*[x if j < 0 else outs[j] for j in sources]))
        if self.observer is not None:
            self.observer(outs)
        return outs[self.output]


def _following_activation(plan: Plan, i: int, default: str) -> str:
    """The activation that follows layer i (for activation-aware gains), else `default`."""
    for later in plan.layers[i + 1 : i + 4]:
        if isinstance(later.node, ActivationNode):
            return later.node.fn
    return default


def _init_rnn(module: UnrolledRNN, node: RnnNode, init: InitSpec) -> None:
    initialise(module, init, "tanh" if node.cell in ("lstm", "gru") else node.cell, node.hidden)
    for cell in module.cells:
        if isinstance(cell, nn.LSTMCell):
            set_forget_bias(cell, node.forget_bias)


def build(plan: Plan, dtype: torch.dtype = torch.float32) -> GraphNet:
    """The network of `plan`, initialised as the spec says, in `dtype`. Seed torch first."""
    net = GraphNet(plan).to(dtype)  # initialise in the run's precision (fp64 inits stay exact)
    for i, (layer, module) in enumerate(zip(plan.layers, net.nodes, strict=True)):
        if layer.op not in ("linear", "conv2d", "conv_transpose2d", "rnn", "attention"):
            continue
        init: InitSpec = getattr(layer.node, "init", None) or plan.init
        if isinstance(layer.node, RnnNode) and isinstance(module, UnrolledRNN):
            _init_rnn(module, layer.node, init)
        else:
            initialise(module, init, _following_activation(plan, i, "linear"))
    return net
