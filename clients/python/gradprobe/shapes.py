"""Torch-free shape inference: each op's output shape, parameter count and forward FLOPs.

Shapes exclude the batch axis: a vector is (F,), a sequence (T, F), an image (C, H, W).
A rule raises `ShapeError(field, message)`; the planner turns it into a SpecError at the
JSON path of the node's field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]
KIND = {1: "a vector", 2: "a sequence (T, F)", 3: "an image (C, H, W)"}
GATES = {"tanh": 1, "relu": 1, "gru": 3, "lstm": 4}


class ShapeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OpShape:
    shape: Shape
    params: int = 0
    flops: int = 0


def _describe(s: Shape) -> str:
    return f"{KIND.get(len(s), f'a rank-{len(s)} tensor')} {s}"


def _one(node: Any, ins: list[Shape], ranks: tuple[int, ...], what: str) -> Shape:
    if len(ins) != 1:
        raise ShapeError("inputs", f"{node.op} takes exactly one input, got {len(ins)}")
    if len(ins[0]) not in ranks:
        want = " or ".join(KIND[r] for r in ranks)
        raise ShapeError("inputs", f"{what} expects {want}, got {_describe(ins[0])}")
    return ins[0]


def _linear(node: Any, ins: list[Shape]) -> OpShape:
    s = _one(node, ins, (1, 2, 3), "linear")
    fan_in, out = s[-1], node.out_features
    rows = math.prod(s[:-1])
    return OpShape((*s[:-1], out), fan_in * out + out * node.bias, 2 * rows * fan_in * out)


def _conv2d(node: Any, ins: list[Shape]) -> OpShape:
    c, h, w = _one(node, ins, (3,), "conv2d")
    k, st = node.kernel, node.stride
    if node.padding == "same" and k % 2 == 0:
        raise ShapeError("kernel", "'same' padding needs an odd kernel")
    pad = k // 2 if node.padding == "same" else 0
    ho, wo = (h + 2 * pad - k) // st + 1, (w + 2 * pad - k) // st + 1
    if ho < 1 or wo < 1:
        raise ShapeError("kernel", f"a {k}x{k} kernel does not fit a {h}x{w} image")
    out = node.out_channels
    return OpShape((out, ho, wo), c * out * k * k + out * node.bias, 2 * c * out * k * k * ho * wo)


def _conv_t(node: Any, ins: list[Shape]) -> OpShape:
    c, h, w = _one(node, ins, (3,), "conv_transpose2d")
    out = node.out_channels
    return OpShape((out, 2 * h, 2 * w), c * out * 4 + out * node.bias, 2 * c * out * 4 * h * w)


def _norm(node: Any, ins: list[Shape]) -> OpShape:
    s = _one(node, ins, (1, 2, 3), f"{node.kind} norm")
    if node.kind == "rms" and len(s) == 3:
        raise ShapeError("kind", "rms norm applies to vectors and sequences, not images")
    features = s[0] if len(s) == 3 else s[-1]
    return OpShape(s, (1 if node.kind == "rms" else 2) * features, 5 * math.prod(s))


def _same(node: Any, ins: list[Shape]) -> OpShape:
    s = _one(node, ins, (1, 2, 3), node.op)
    return OpShape(s, 0, math.prod(s))


def _add(node: Any, ins: list[Shape]) -> OpShape:
    if len(ins) < 2:
        raise ShapeError("inputs", "add needs at least two inputs")
    if any(s != ins[0] for s in ins):
        shown = ", ".join(str(s) for s in ins)
        raise ShapeError("inputs", f"add needs inputs of one shape, got {shown}")
    return OpShape(ins[0], 0, math.prod(ins[0]) * (len(ins) - 1))


def _concat(node: Any, ins: list[Shape]) -> OpShape:
    if len(ins) < 2:
        raise ShapeError("inputs", "concat needs at least two inputs")
    rank = len(ins[0])
    if any(len(s) != rank for s in ins):
        raise ShapeError(
            "inputs", f"concat needs inputs of one rank, got {[tuple(s) for s in ins]}"
        )
    axis = (0 if rank == 3 else rank - 1) if node.axis is None else node.axis
    if not -rank <= axis < rank:
        raise ShapeError("axis", f"axis {node.axis} is out of range for {_describe(ins[0])}")
    axis %= rank
    for s in ins[1:]:
        if any(a != b for i, (a, b) in enumerate(zip(s, ins[0], strict=True)) if i != axis):
            raise ShapeError(
                "axis", f"concat on axis {axis} needs the other axes equal, got {ins[0]} and {s}"
            )
    out = list(ins[0])
    out[axis] = sum(s[axis] for s in ins)
    return OpShape(tuple(out), 0, math.prod(out))


def _pool(node: Any, ins: list[Shape]) -> OpShape:
    c, h, w = _one(node, ins, (3,), "pool")
    if h < node.kernel or w < node.kernel:
        raise ShapeError(
            "kernel", f"a {node.kernel}x{node.kernel} pool does not fit a {h}x{w} image"
        )
    return OpShape((c, h // node.kernel, w // node.kernel), 0, c * h * w)


def _global_pool(node: Any, ins: list[Shape]) -> OpShape:
    s = _one(node, ins, (2, 3), "global_pool")
    return OpShape((s[0],) if len(s) == 3 else (s[1],), 0, math.prod(s))


def _upsample(node: Any, ins: list[Shape]) -> OpShape:
    c, h, w = _one(node, ins, (3,), "upsample")
    return OpShape((c, 2 * h, 2 * w), 0, 4 * c * h * w)


def _flatten(node: Any, ins: list[Shape]) -> OpShape:
    s = _one(node, ins, (1, 2, 3), "flatten")
    return OpShape((math.prod(s),), 0, 0)


def _rnn(node: Any, ins: list[Shape]) -> OpShape:
    t, f = _one(node, ins, (2,), f"an {node.cell} rnn")
    g, h = GATES[node.cell], node.hidden
    params = flops = 0
    for layer in range(node.layers):
        fan_in = f if layer == 0 else h
        params += g * h * (fan_in + h) + 2 * g * h * node.bias
        flops += 2 * t * g * h * (fan_in + h)
    return OpShape((t, h), params, flops)


def _last(node: Any, ins: list[Shape]) -> OpShape:
    _, f = _one(node, ins, (2,), "last")
    return OpShape((f,), 0, 0)


def _attention(node: Any, ins: list[Shape]) -> OpShape:
    t, d = _one(node, ins, (2,), "attention")
    if d % node.heads:
        raise ShapeError("heads", f"{node.heads} heads do not divide the model width {d}")
    return OpShape((t, d), 4 * d * d + 4 * d * node.bias, 8 * t * d * d + 4 * t * t * d)


def _pos_embed(node: Any, ins: list[Shape]) -> OpShape:
    t, d = _one(node, ins, (2,), "pos_embed")
    return OpShape((t, d), t * d, t * d)


RULES: dict[str, Callable[[Any, list[Shape]], OpShape]] = {
    "linear": _linear,
    "conv2d": _conv2d,
    "conv_transpose2d": _conv_t,
    "norm": _norm,
    "activation": _same,
    "dropout": _same,
    "add": _add,
    "concat": _concat,
    "pool": _pool,
    "global_pool": _global_pool,
    "upsample": _upsample,
    "flatten": _flatten,
    "rnn": _rnn,
    "last": _last,
    "attention": _attention,
    "pos_embed": _pos_embed,
}


def infer(node: Any, ins: list[Shape]) -> OpShape:
    """Output shape, parameters and FLOPs of `node` given its input shapes."""
    return RULES[node.op](node, ins)
