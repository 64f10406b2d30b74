"""Vocabularies and small models shared by every part of the spec."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal[
    "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "tanh", "sigmoid", "softsign", "linear"
]
ACTIVATIONS: tuple[str, ...] = Activation.__args__  # type: ignore[attr-defined]

NormKind = Literal["none", "batch", "layer", "rms"]

InitScheme = Literal[
    "pytorch_default",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "normal",
    "lecun_normal",
]


class Strict(BaseModel):
    """Base for spec models: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class InitSpec(Strict):
    """Weight initialisation.

    `normal` is the mean-field parameterisation: W ~ N(0, sigma_w^2 / fan_in), b ~ N(0, sigma_b^2).
    `gain` scales xavier/orthogonal weights (default 1). Biases start at zero except for
    `pytorch_default` (PyTorch's own) and `normal` (sigma_b).
    """

    scheme: InitScheme = "pytorch_default"
    sigma_w: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
    sigma_b: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    gain: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
