"""What each data source feeds the network and what it asks of the output, without torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gradprobe.errors import SpecError
from gradprobe.spec import AddingData, CopyData, DataSpec, DigitsData, TeacherData
from gradprobe.spec.job import Caps
from gradprobe.uploads import read_upload

Shape = tuple[int, ...]
TargetKind = Literal["class", "regress", "step_class", "dense"]
IMAGE_FAMILIES = frozenset({"cnn", "unet", "densenet"})


@dataclass(frozen=True)
class DataShape:
    """Per-example input shape; the target kind and its size (classes, outputs, or an image)."""

    input: Shape
    target: TargetKind
    target_shape: Shape  # (K,) classes; (D,) outputs; (T, K) per-step classes; (C, H, W)

    @property
    def head_size(self) -> int:
        """Width of the output layer: classes or regression outputs (channels for dense)."""
        return self.target_shape[-1] if self.target != "dense" else self.target_shape[0]


def digits_layout(data: DigitsData, family: str) -> str:
    if data.layout != "auto":
        return data.layout
    return "image" if family in IMAGE_FAMILIES or data.task == "denoise" else "flat"


def _digits(data: DigitsData, family: str) -> DataShape:
    layout = digits_layout(data, family)
    shape: Shape = {"flat": (64,), "image": (1, 8, 8), "rows": (8, 8)}[layout]
    if data.task == "denoise":
        return DataShape(
            shape,
            "dense" if layout == "image" else "regress",
            shape if layout == "image" else (64,),
        )
    return DataShape(shape, "class", (10,))


def _teacher(data: TeacherData) -> DataShape:
    shape: Shape = tuple(data.input_shape) if data.input_shape else (data.input_dim,)
    if data.classes == 0:
        return DataShape(shape, "regress", (1,))
    if data.classes == 1:
        raise SpecError.at(
            ("data", "classes"),
            "a classification task needs at least 2 classes (0 means regression)",
        )
    return DataShape(shape, "class", (data.classes,))


def _copy(data: CopyData) -> DataShape:
    steps = data.length + 2 * data.copy_len + 1
    vocab = data.alphabet + 2  # symbols, blank, delimiter
    return DataShape((steps, vocab), "step_class", (steps, vocab))


def data_shape(data: DataSpec, family: str, caps: Caps | None = None) -> DataShape:
    """Shapes for `data` as fed to a model of `family`; raises SpecError naming data fields."""
    caps = caps or Caps()
    if isinstance(data, TeacherData):
        return _teacher(data)
    if isinstance(data, DigitsData):
        return _digits(data, family)
    if isinstance(data, AddingData):
        return DataShape((data.length, 2), "regress", (1,))
    if isinstance(data, CopyData):
        return _copy(data)
    x, y = read_upload(data, caps)
    if data.task == "regress":
        return DataShape(tuple(x.shape[1:]), "regress", (y.shape[1],))
    classes = int(y.max()) + 1
    if classes < 2:
        raise SpecError.at(("data", "path"), "a classification upload needs at least 2 classes")
    return DataShape(tuple(x.shape[1:]), "class", (classes,))
