"""The `graph` model: an explicit DAG of named nodes. Every family expands into this form.

A node reads the outputs of the nodes named in `inputs` (`"input"` is the data; omitted
means "the node before me"). Shapes exclude the batch axis: a vector is (F,), a sequence
(T, F), an image (C, H, W). A `repeat` node stamps its `body` `times` times; inside the
body `"in"` names the block's input (the previous copy's output) and the block's output is
its last body node. Copies are named `<repeat>.<i>.<node>`, so names stay stable.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gradprobe.spec.common import Activation, InitSpec, Strict

NodeName = Annotated[
    str,
    Field(min_length=1, max_length=80, pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$"),
]
Width = Annotated[int, Field(ge=1, le=65536)]
Kernel = Annotated[int, Field(ge=1, le=31)]


class Node(Strict):
    name: NodeName
    inputs: list[NodeName] | None = Field(None, min_length=1, max_length=64)


class WeightedNode(Node):
    bias: bool = True
    init: InitSpec | None = None  # None: the model's `init`


class LinearNode(WeightedNode):
    op: Literal["linear"] = "linear"
    out_features: Width


class Conv2dNode(WeightedNode):
    op: Literal["conv2d"] = "conv2d"
    out_channels: Width
    kernel: Kernel = 3
    stride: Annotated[int, Field(ge=1, le=8)] = 1
    padding: Literal["same", "valid"] = "same"


class ConvTranspose2dNode(WeightedNode):
    """Learned 2x upsampling (kernel 2, stride 2), as in the U-Net decoder."""

    op: Literal["conv_transpose2d"] = "conv_transpose2d"
    out_channels: Width


class NormNode(Node):
    """batch: BatchNorm over the batch (and H, W); layer: LayerNorm over features (GroupNorm(1)
    for images); rms: RMSNorm over features."""

    op: Literal["norm"] = "norm"
    kind: Literal["batch", "layer", "rms"] = "batch"


class ActivationNode(Node):
    op: Literal["activation"] = "activation"
    fn: Activation = "relu"


class AddNode(Node):
    """Elementwise sum of two or more inputs of identical shape (a residual connection)."""

    op: Literal["add"] = "add"


class ConcatNode(Node):
    """Concatenate along `axis` of the per-example shape; default the feature axis
    (channels for images, the last axis otherwise)."""

    op: Literal["concat"] = "concat"
    axis: int | None = None


class PoolNode(Node):
    op: Literal["pool"] = "pool"
    kind: Literal["max", "avg"] = "max"
    kernel: Kernel = 2


class GlobalPoolNode(Node):
    """Average (or max) over H, W of an image, or over time of a sequence."""

    op: Literal["global_pool"] = "global_pool"
    kind: Literal["max", "avg"] = "avg"


class UpsampleNode(Node):
    """Nearest-neighbour 2x upsampling of an image."""

    op: Literal["upsample"] = "upsample"


class FlattenNode(Node):
    op: Literal["flatten"] = "flatten"


class DropoutNode(Node):
    op: Literal["dropout"] = "dropout"
    p: float = Field(0.1, ge=0, lt=1, allow_inf_nan=False)


class RnnNode(WeightedNode):
    """A recurrent stack over a sequence (T, F) -> (T, hidden). Unrolled step by step so that
    ||dL/dh_t|| is observable at every t (a fused kernel hides it)."""

    op: Literal["rnn"] = "rnn"
    cell: Literal["tanh", "relu", "lstm", "gru"] = "lstm"
    hidden: Annotated[int, Field(ge=1, le=8192)] = 64
    layers: Annotated[int, Field(ge=1, le=16)] = 1
    forget_bias: float = Field(1.0, ge=-20, le=20, allow_inf_nan=False)


class LastNode(Node):
    """The last time step of a sequence: (T, F) -> (F,)."""

    op: Literal["last"] = "last"


class AttentionNode(WeightedNode):
    """Multi-head self-attention over a sequence (T, D) -> (T, D)."""

    op: Literal["attention"] = "attention"
    heads: Annotated[int, Field(ge=1, le=128)] = 4
    causal: bool = False


class PosEmbedNode(Node):
    """A learned positional embedding added to a sequence (T, D)."""

    op: Literal["pos_embed"] = "pos_embed"


class RepeatNode(Node):
    op: Literal["repeat"] = "repeat"
    times: Annotated[int, Field(ge=1, le=1000)]
    body: list[GraphNodeSpec] = Field(min_length=1, max_length=1000)


GraphNodeSpec = Annotated[
    LinearNode
    | Conv2dNode
    | ConvTranspose2dNode
    | NormNode
    | ActivationNode
    | AddNode
    | ConcatNode
    | PoolNode
    | GlobalPoolNode
    | UpsampleNode
    | FlattenNode
    | DropoutNode
    | RnnNode
    | LastNode
    | AttentionNode
    | PosEmbedNode
    | RepeatNode,
    Field(discriminator="op"),
]
RepeatNode.model_rebuild()

# The nodes a built network is made of: a repeat is only a way to write many of them.
PrimitiveNode = (
    LinearNode
    | Conv2dNode
    | ConvTranspose2dNode
    | NormNode
    | ActivationNode
    | AddNode
    | ConcatNode
    | PoolNode
    | GlobalPoolNode
    | UpsampleNode
    | FlattenNode
    | DropoutNode
    | RnnNode
    | LastNode
    | AttentionNode
    | PosEmbedNode
)

WEIGHTED_OPS: frozenset[str] = frozenset(
    {"linear", "conv2d", "conv_transpose2d", "rnn", "attention", "norm", "pos_embed"}
)
# Ops whose output is one "layer" of depth for decay fits (the trunk of the network).
TRUNK_OPS: frozenset[str] = frozenset({"linear", "conv2d", "conv_transpose2d", "rnn", "attention"})


class GraphModel(Strict):
    type: Literal["graph"] = "graph"
    nodes: list[GraphNodeSpec] = Field(min_length=1, max_length=5000)
    output: NodeName | None = None  # default: the last node
    init: InitSpec = InitSpec()
