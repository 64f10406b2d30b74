"""Data sources. All are generated or loaded locally and seeded: nothing is downloaded."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gradprobe.spec.common import Strict

Samples = Annotated[int, Field(ge=1, le=10_000_000)]
SeqLen = Annotated[int, Field(ge=1, le=100_000)]


class TeacherData(Strict):
    """x ~ N(0, I) labelled by a random tanh teacher net: the argmax of its `classes` outputs,
    or its outputs themselves when `classes` is 0 (regression). `input_shape` (e.g. [1, 8, 8] or
    [T, F]) replaces `input_dim` for image or sequence models."""

    name: Literal["teacher"] = "teacher"
    input_dim: Annotated[int, Field(ge=1, le=1_000_000)] = 64
    input_shape: list[Annotated[int, Field(ge=1, le=100_000)]] | None = Field(
        None, min_length=1, max_length=3
    )
    classes: Annotated[int, Field(ge=0, le=100_000)] = 10
    samples: Samples = 4096
    teacher_width: Annotated[int, Field(ge=1, le=4096)] = 128
    noise: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    seed: int = 0


class DigitsData(Strict):
    """scikit-learn's bundled 8x8 digits (1797 images). `layout`: flat (64,), image (1, 8, 8),
    rows (a sequence of 8 rows of 8 pixels), or auto (image for conv families, flat otherwise).
    `task: denoise` asks to reconstruct the clean image from one with Gaussian noise (U-Net)."""

    name: Literal["digits"] = "digits"
    task: Literal["classify", "denoise"] = "classify"
    layout: Literal["auto", "flat", "image", "rows"] = "auto"
    noise: float = Field(0.3, ge=0, le=100, allow_inf_nan=False)
    seed: int = 0


class AddingData(Strict):
    """Hochreiter & Schmidhuber's adding problem: a sequence of T (value, marker) pairs; the
    target is the sum of the two marked values (one in each half)."""

    name: Literal["adding"] = "adding"
    length: SeqLen = 50
    samples: Samples = 4096
    seed: int = 0


class CopyData(Strict):
    """The copy (memory) task: `copy_len` symbols, `length` blanks, a delimiter, then the
    symbols must be reproduced; a class target at every one of the length + 2*copy_len + 1 steps."""

    name: Literal["copy"] = "copy"
    length: SeqLen = 20
    copy_len: Annotated[int, Field(ge=1, le=1000)] = 5
    alphabet: Annotated[int, Field(ge=1, le=1000)] = 8
    samples: Samples = 4096
    seed: int = 0


class UploadData(Strict):
    """A small user file: `.npz` with arrays `x` and `y`, or `.csv` with a header whose
    `target` column (default: the last) is the label. Size-capped."""

    name: Literal["upload"] = "upload"
    path: str = Field(min_length=1, max_length=4096)
    task: Literal["classify", "regress"] = "classify"
    target: str | None = None
    seed: int = 0


DataSpec = Annotated[
    TeacherData | DigitsData | AddingData | CopyData | UploadData, Field(discriminator="name")
]
