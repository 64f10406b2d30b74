"""How the short training run is driven."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gradprobe.spec.common import Strict

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class OptimizerSpec(Strict):
    """`sgd` (with `momentum` > 0: SGD with momentum; `nesterov` optional), `adam`, `adamw`,
    `rmsprop`. `betas` and `eps` apply to the Adam family, `momentum` to sgd and rmsprop."""

    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "sgd"
    lr: float = Field(0.1, gt=0, le=100, allow_inf_nan=False)
    momentum: float = Field(0.9, ge=0, lt=1, allow_inf_nan=False)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0, le=10, allow_inf_nan=False)
    betas: tuple[
        Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)],
        Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)],
    ] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0, le=1, allow_inf_nan=False)


class ScheduleSpec(Strict):
    """Linear warm-up over `warmup_steps`, then constant, cosine or linear decay to zero."""

    name: Literal["constant", "cosine", "linear"] = "constant"
    warmup_steps: Annotated[int, Field(ge=0, le=10_000_000)] = 0


class ClipSpec(Strict):
    """Gradient clipping after the statistics are taken (they see the raw gradients)."""

    max_norm: PositiveFinite | None = None
    max_value: PositiveFinite | None = None


class TrainSpec(Strict):
    """`steps` optimizer updates; `steps: 0` probes the network once, at initialisation.
    `precision`: fp32, fp64, or bf16/fp16 autocast (CUDA only; fp32 on the CPU, with a warning)."""

    steps: Annotated[int, Field(ge=0, le=10_000_000)] = 200
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 128
    seed: int = Field(0, ge=0, le=2**31 - 1)
    optimizer: OptimizerSpec = OptimizerSpec()
    schedule: ScheduleSpec = ScheduleSpec()
    clip: ClipSpec = ClipSpec()
    precision: Literal["fp32", "fp64", "bf16", "fp16"] = "fp32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
