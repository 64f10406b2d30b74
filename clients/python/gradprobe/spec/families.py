"""Model families: short descriptions of classic architectures, each expanded into a graph."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gradprobe.spec.common import Activation, InitSpec, NormKind, Strict

Depth = Annotated[int, Field(ge=1, le=1000)]
Width = Annotated[int, Field(ge=1, le=16384)]
Channels = Annotated[int, Field(ge=1, le=4096)]
Dropout = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class MlpModel(Strict):
    """`depth` hidden layers linear -> [norm] -> activation (norm after the activation with
    `norm_position: after`), then a linear head. `residual: true` wraps every hidden layer
    but the first in y = x + F(x); `residual: k` wraps blocks of k layers."""

    type: Literal["mlp"] = "mlp"
    depth: Depth = 10
    width: Width = 256
    activation: Activation = "relu"
    norm: NormKind = "none"
    norm_position: Literal["before", "after"] = "before"
    residual: bool | Annotated[int, Field(ge=1, le=100)] = False
    dropout: Dropout = 0.0
    init: InitSpec = InitSpec()


class CnnModel(Strict):
    """A stem conv, then one stage per entry of `channels` with `blocks` conv layers each
    (ResNet basic blocks of two convs with `residual: true`), downsampling between stages by
    `pooling`, and a global-average-pool + linear head."""

    type: Literal["cnn"] = "cnn"
    channels: list[Channels] = Field(default=[16, 32], min_length=1, max_length=8)
    blocks: Annotated[int, Field(ge=1, le=100)] = 2
    kernel: Literal[1, 3, 5, 7] = 3
    activation: Activation = "relu"
    norm: NormKind = "none"
    residual: bool = False
    pooling: Literal["max", "avg", "stride"] = "max"
    init: InitSpec = InitSpec()


class UnetModel(Strict):
    """Encoder of `levels` levels (each `convs` conv layers, then 2x2 max-pool), a bottleneck,
    and a mirrored decoder (learned 2x upsampling). With `skips`, each decoder level merges the
    encoder output of the same resolution (`skip_mode`: concat as in Ronneberger et al., or add)."""

    type: Literal["unet"] = "unet"
    levels: Annotated[int, Field(ge=1, le=8)] = 2
    base_channels: Channels = 16
    convs: Annotated[int, Field(ge=1, le=16)] = 2
    skips: bool = True
    skip_mode: Literal["concat", "add"] = "concat"
    activation: Activation = "relu"
    norm: NormKind = "none"
    init: InitSpec = InitSpec()


class DensenetModel(Strict):
    """Dense blocks (Huang et al. 2017): each layer norm -> activation -> conv3x3(growth) and its
    output concatenated to everything before it; 1x1 conv + avg-pool transitions between blocks."""

    type: Literal["densenet"] = "densenet"
    blocks: Annotated[int, Field(ge=1, le=8)] = 2
    growth: Channels = 12
    layers_per_block: Annotated[int, Field(ge=1, le=64)] = 4
    stem_channels: Channels = 16
    activation: Activation = "relu"
    norm: NormKind = "batch"
    init: InitSpec = InitSpec()


class RnnModel(Strict):
    """A recurrent stack (vanilla tanh/relu, LSTM or GRU) over the data's sequence, with a
    linear read-out at the last step (or at every step for per-step targets)."""

    type: Literal["rnn"] = "rnn"
    cell: Literal["tanh", "relu", "lstm", "gru"] = "lstm"
    hidden: Annotated[int, Field(ge=1, le=8192)] = 64
    layers: Annotated[int, Field(ge=1, le=16)] = 1
    forget_bias: float = Field(1.0, ge=-20, le=20, allow_inf_nan=False)
    init: InitSpec = InitSpec()


class TransformerModel(Strict):
    """An encoder: input projection, learned positions, `layers` blocks of self-attention and
    a feed-forward net, each a residual branch with LayerNorm after the sum (`post`, the original
    Transformer) or at the start of the branch (`pre`, plus a final LayerNorm)."""

    type: Literal["transformer"] = "transformer"
    layers: Annotated[int, Field(ge=1, le=200)] = 4
    d_model: Annotated[int, Field(ge=1, le=8192)] = 64
    heads: Annotated[int, Field(ge=1, le=128)] = 4
    ff_mult: Annotated[int, Field(ge=1, le=16)] = 4
    norm_position: Literal["pre", "post"] = "pre"
    activation: Activation = "gelu"
    dropout: Dropout = 0.0
    causal: bool = False
    init: InitSpec = InitSpec()
