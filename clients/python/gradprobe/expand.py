"""Family -> graph expansion. Every family becomes a flat list of primitive nodes
(a user's own `graph` is inlined by gradprobe.graph).

Names are stable and readable (`h3.linear`, `enc1.conv2`, `b2.attn`) because statistics are
keyed by them. `origins` maps each node to the spec field it came from, so that an error
found later (a shape mismatch, say) names a field the user wrote.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from gradprobe.datashapes import DataShape
from gradprobe.errors import Loc, SpecError
from gradprobe.graph import Graph, inline
from gradprobe.spec import (
    CnnModel,
    DensenetModel,
    GraphModel,
    MlpModel,
    ModelSpec,
    RnnModel,
    TransformerModel,
    UnetModel,
)
from gradprobe.spec.common import InitSpec
from gradprobe.spec.graph import PrimitiveNode

# Picked by `op`: as a plain union, pydantic would try all sixteen node types (~10x slower,
# and expanding a family is most of checking a posted spec).
_NODE: TypeAdapter[PrimitiveNode] = TypeAdapter(Annotated[PrimitiveNode, Field(discriminator="op")])


def _node_error(op: str, name: str, exc: ValidationError) -> str:
    """The errors of the union member for `op` (the others only say "wrong op")."""
    errors = exc.errors()
    wrong = {e["loc"][0] for e in errors if e["loc"][1:] == ("op",)}
    own = [e for e in errors if e["loc"] and e["loc"][0] not in wrong] or errors
    where = ".".join(str(p) for p in own[0]["loc"][1:])
    return f"expands to a {op} node {name!r} whose {where} is out of range: {own[0]['msg']}"


class _Stack:
    """Appends nodes one after another; `add` returns the new node's name."""

    def __init__(self, init: InitSpec, origin: Loc = ("model",)) -> None:
        self.graph = Graph(init=init)
        self.last = "input"
        self.origin = origin

    def add(
        self,
        name: str,
        op: str,
        inputs: list[str] | None = None,
        origin: Loc | None = None,
        **kw: Any,
    ) -> str:
        try:
            node = _NODE.validate_python(
                {"name": name, "op": op, "inputs": inputs or [self.last], **kw}
            )
        except ValidationError as exc:  # e.g. channels doubled past a node's bound
            raise SpecError.at(origin or self.origin, _node_error(op, name, exc)) from None
        self.graph.nodes.append(node)
        self.graph.origins[name] = origin or self.origin
        self.last = name
        return name

    def norm(self, prefix: str, kind: str, suffix: str = "") -> None:
        if kind != "none":
            self.add(f"{prefix}.norm{suffix}", "norm", kind=kind, origin=("model", "norm"))

    def done(self) -> Graph:
        self.graph.output = self.last
        return self.graph


def _mlp(m: MlpModel, shape: DataShape) -> Graph:
    s = _Stack(m.init)
    if len(shape.input) > 1:
        s.add("flatten", "flatten")
    block = 1 if m.residual is True else int(m.residual)  # False -> 0: no residual blocks
    block_input = ""
    for i in range(1, m.depth + 1):
        residual = block > 0 and i > 1
        if residual and (i - 2) % block == 0:
            block_input = s.last
        s.add(f"h{i}.linear", "linear", out_features=m.width, origin=("model", "depth"))
        if m.norm_position == "before":
            s.norm(f"h{i}", m.norm)
        s.add(f"h{i}.act", "activation", fn=m.activation, origin=("model", "activation"))
        if m.norm_position == "after":
            s.norm(f"h{i}", m.norm)
        if residual and ((i - 1) % block == 0 or i == m.depth):
            s.add(f"h{i}.add", "add", inputs=[block_input, s.last], origin=("model", "residual"))
        if m.dropout > 0:
            s.add(f"h{i}.dropout", "dropout", p=m.dropout, origin=("model", "dropout"))
    s.add("out.linear", "linear", out_features=shape.head_size)
    return s.done()


def _conv_unit(
    s: _Stack, prefix: str, ch: int, kernel: int, norm: str, act: str | None, stride: int = 1
) -> str:
    s.add(f"{prefix}.conv", "conv2d", out_channels=ch, kernel=kernel, stride=stride)
    s.norm(prefix, norm)
    if act is not None:
        s.add(f"{prefix}.act", "activation", fn=act, origin=("model", "activation"))
    return s.last


def _cnn_block(s: _Stack, m: CnnModel, name: str, ch_in: int, ch: int, stride: int) -> None:
    if not m.residual:
        _conv_unit(s, name, ch, m.kernel, m.norm, m.activation, stride)
        return
    skip = s.last
    _conv_unit(s, f"{name}.a", ch, m.kernel, m.norm, m.activation, stride)
    main = _conv_unit(s, f"{name}.b", ch, m.kernel, m.norm, None)
    if stride > 1 or ch_in != ch:  # the identity path needs a 1x1 projection
        skip = s.add(
            f"{name}.proj", "conv2d", inputs=[skip], out_channels=ch, kernel=1, stride=stride
        )
    s.add(f"{name}.add", "add", inputs=[skip, main], origin=("model", "residual"))
    s.add(f"{name}.act", "activation", fn=m.activation, origin=("model", "activation"))


def _cnn(m: CnnModel, shape: DataShape) -> Graph:
    s = _Stack(m.init)
    _conv_unit(s, "stem", m.channels[0], m.kernel, m.norm, m.activation)
    ch_in = m.channels[0]
    for st, ch in enumerate(m.channels, start=1):
        stride = 1
        if st > 1:
            if m.pooling == "stride":
                stride = 2
            else:
                s.add(f"s{st}.pool", "pool", kind=m.pooling, origin=("model", "pooling"))
        for b in range(1, m.blocks + 1):
            _cnn_block(s, m, f"s{st}.b{b}", ch_in, ch, stride if b == 1 else 1)
            ch_in = ch
    s.add("head.pool", "global_pool")
    s.add("out.linear", "linear", out_features=shape.head_size)
    return s.done()


def _unet_level(s: _Stack, m: UnetModel, prefix: str, ch: int) -> str:
    for k in range(1, m.convs + 1):
        s.add(f"{prefix}.conv{k}", "conv2d", out_channels=ch, origin=("model", "levels"))
        s.norm(prefix, m.norm, str(k))
        s.add(f"{prefix}.act{k}", "activation", fn=m.activation, origin=("model", "activation"))
    return s.last


def _unet(m: UnetModel, shape: DataShape) -> Graph:
    s = _Stack(m.init, origin=("model", "levels"))
    skips: list[str] = []
    for lvl in range(1, m.levels + 1):
        skips.append(_unet_level(s, m, f"enc{lvl}", m.base_channels * 2 ** (lvl - 1)))
        s.add(f"enc{lvl}.pool", "pool")
    _unet_level(s, m, "mid", m.base_channels * 2**m.levels)
    for lvl in range(m.levels, 0, -1):
        ch = m.base_channels * 2 ** (lvl - 1)
        s.add(f"dec{lvl}.up", "conv_transpose2d", out_channels=ch)
        if m.skips:
            op = "concat" if m.skip_mode == "concat" else "add"
            s.add(
                f"dec{lvl}.{'cat' if op == 'concat' else 'add'}",
                op,
                inputs=[skips[lvl - 1], s.last],
                origin=("model", "skips"),
            )
        _unet_level(s, m, f"dec{lvl}", ch)
    if shape.target == "dense":
        s.add("out.conv", "conv2d", out_channels=shape.head_size, kernel=1)
    else:
        s.add("head.pool", "global_pool")
        s.add("out.linear", "linear", out_features=shape.head_size)
    return s.done()


def _densenet(m: DensenetModel, shape: DataShape) -> Graph:
    s = _Stack(m.init)
    s.add("stem.conv", "conv2d", out_channels=m.stem_channels)
    ch = m.stem_channels
    for b in range(1, m.blocks + 1):
        for i in range(1, m.layers_per_block + 1):
            block_in = s.last
            s.norm(f"d{b}.l{i}", m.norm)
            s.add(f"d{b}.l{i}.act", "activation", fn=m.activation, origin=("model", "activation"))
            s.add(f"d{b}.l{i}.conv", "conv2d", out_channels=m.growth, origin=("model", "growth"))
            s.add(f"d{b}.l{i}.cat", "concat", inputs=[block_in, s.last])
            ch += m.growth
        if b < m.blocks:
            ch = max(1, ch // 2)
            s.add(f"t{b}.conv", "conv2d", out_channels=ch, kernel=1)
            s.add(f"t{b}.pool", "pool", kind="avg", origin=("model", "blocks"))
    s.norm("head", m.norm)
    s.add("head.act", "activation", fn=m.activation)
    s.add("head.pool", "global_pool")
    s.add("out.linear", "linear", out_features=shape.head_size)
    return s.done()


def _rnn(m: RnnModel, shape: DataShape) -> Graph:
    s = _Stack(m.init)
    s.add("rnn", "rnn", cell=m.cell, hidden=m.hidden, layers=m.layers, forget_bias=m.forget_bias)
    if shape.target != "step_class":
        s.add("last", "last")
    s.add("out.linear", "linear", out_features=shape.head_size)
    return s.done()


def _transformer_block(s: _Stack, m: TransformerModel, b: str) -> None:
    def branch_attn() -> None:
        s.add(f"{b}.attn", "attention", heads=m.heads, causal=m.causal, origin=("model", "heads"))
        if m.dropout > 0:
            s.add(f"{b}.attn_drop", "dropout", p=m.dropout)

    def branch_ff() -> None:
        s.add(f"{b}.ff1", "linear", out_features=m.d_model * m.ff_mult, origin=("model", "ff_mult"))
        s.add(f"{b}.act", "activation", fn=m.activation, origin=("model", "activation"))
        s.add(f"{b}.ff2", "linear", out_features=m.d_model, origin=("model", "d_model"))
        if m.dropout > 0:
            s.add(f"{b}.ff_drop", "dropout", p=m.dropout)

    for k, branch in ((1, branch_attn), (2, branch_ff)):
        x = s.last
        if m.norm_position == "pre":
            s.add(f"{b}.ln{k}", "norm", kind="layer")
            branch()
            s.add(f"{b}.add{k}", "add", inputs=[x, s.last])
        else:
            branch()
            s.add(f"{b}.add{k}", "add", inputs=[x, s.last])
            s.add(f"{b}.ln{k}", "norm", kind="layer")


def _transformer(m: TransformerModel, shape: DataShape) -> Graph:
    s = _Stack(m.init)
    s.add("embed.linear", "linear", out_features=m.d_model, origin=("model", "d_model"))
    s.add("pos", "pos_embed")
    for i in range(1, m.layers + 1):
        _transformer_block(s, m, f"b{i}")
    if m.norm_position == "pre":
        s.add("final.ln", "norm", kind="layer")
    if shape.target != "step_class":
        s.add("head.pool", "global_pool")
    s.add("out.linear", "linear", out_features=shape.head_size)
    return s.done()


_FAMILIES: dict[type, Any] = {
    MlpModel: _mlp,
    CnnModel: _cnn,
    UnetModel: _unet,
    DensenetModel: _densenet,
    RnnModel: _rnn,
    TransformerModel: _transformer,
    GraphModel: lambda m, shape: inline(m),
}


def expand(model: ModelSpec, shape: DataShape) -> Graph:
    """The primitive graph of `model` for data of `shape` (the head is sized to the target)."""
    return _FAMILIES[type(model)](model, shape)
