"""Data sources (PRODUCT.md section 2): generated or read locally, seeded, never downloaded.

Every source yields the whole (small) dataset as two tensors on the training device;
`Batches` then draws seeded random minibatches from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gradprobe.datashapes import DataShape, digits_layout
from gradprobe.spec import AddingData, CopyData, DataSpec, DigitsData, TeacherData, UploadData
from gradprobe.spec.job import Caps
from gradprobe.uploads import read_upload


def _teacher(d: TeacherData, shape: DataShape) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(d.seed)
    x = rng.standard_normal((d.samples, *shape.input)).astype(np.float32)
    flat = x.reshape(d.samples, -1)
    w1 = rng.standard_normal((flat.shape[1], d.teacher_width)) / np.sqrt(flat.shape[1])
    w2 = rng.standard_normal((d.teacher_width, max(d.classes, 1))) / np.sqrt(d.teacher_width)
    out = np.tanh(flat @ w1 * 2.0) @ w2  # a fixed random nonlinear teacher
    out += d.noise * rng.standard_normal(out.shape)
    if d.classes == 0:
        return x, out.astype(np.float32)
    return x, out.argmax(axis=1).astype(np.int64)


def _digits(d: DigitsData, family: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    images = (bunch.data / 16.0).astype(np.float32)  # (1797, 64) in [0, 1]
    layout = digits_layout(d, family)
    shape = {"flat": (64,), "image": (1, 8, 8), "rows": (8, 8)}[layout]
    if d.task == "denoise":
        rng = np.random.default_rng(d.seed)
        noisy = images + d.noise * rng.standard_normal(images.shape).astype(np.float32)
        target = images.reshape(-1, *shape) if layout == "image" else images
        return noisy.reshape(-1, *shape), target
    standardised = (images - images.mean()) / images.std()
    return standardised.reshape(-1, *shape), bunch.target.astype(np.int64)


def _adding(d: AddingData) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(d.seed)
    n, t = d.samples, d.length
    values = rng.uniform(0, 1, (n, t)).astype(np.float32)
    markers = np.zeros((n, t), np.float32)
    half = max(t // 2, 1)
    first = rng.integers(0, half, n)
    second = rng.integers(half, t, n) if t > 1 else first
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    y = (values * markers).sum(axis=1, keepdims=True)
    return np.stack([values, markers], axis=2), y.astype(np.float32)


def _copy(d: CopyData) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(d.seed)
    blank, delimiter = d.alphabet, d.alphabet + 1
    steps = d.length + 2 * d.copy_len + 1
    symbols = rng.integers(0, d.alphabet, (d.samples, d.copy_len))
    tokens = np.full((d.samples, steps), blank, np.int64)
    tokens[:, : d.copy_len] = symbols
    tokens[:, d.copy_len + d.length] = delimiter
    target = np.full((d.samples, steps), blank, np.int64)
    target[:, -d.copy_len :] = symbols
    one_hot = np.eye(d.alphabet + 2, dtype=np.float32)[tokens]  # (N, steps, vocab)
    return one_hot, target


def arrays(
    data: DataSpec, shape: DataShape, family: str, caps: Caps
) -> tuple[np.ndarray, np.ndarray]:
    """The whole dataset as numpy arrays (inputs, targets)."""
    if isinstance(data, TeacherData):
        return _teacher(data, shape)
    if isinstance(data, DigitsData):
        return _digits(data, family)
    if isinstance(data, AddingData):
        return _adding(data)
    if isinstance(data, CopyData):
        return _copy(data)
    assert isinstance(data, UploadData)
    x, y = read_upload(data, caps)
    return x.reshape(len(x), *shape.input), y


@dataclass
class Batches:
    """Seeded random minibatches (with replacement across steps) from a dataset on `device`."""

    x: Tensor
    y: Tensor
    batch_size: int
    seed: int
    prior_loss: float | None = None  # cross-entropy of predicting the class frequencies

    def __post_init__(self) -> None:
        # drawn on the data's device: no host-to-device copy (and no sync) per step
        self.generator = torch.Generator(device=self.x.device).manual_seed(self.seed)

    def next(self) -> tuple[Tensor, Tensor]:
        idx = torch.randint(
            len(self.x), (self.batch_size,), generator=self.generator, device=self.x.device
        )
        return self.x[idx], self.y[idx]


def load(
    data: DataSpec,
    shape: DataShape,
    family: str,
    caps: Caps,
    batch_size: int,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
) -> Batches:
    x, y = arrays(data, shape, family, caps)
    prior = None
    if np.issubdtype(y.dtype, np.integer):
        freq = np.bincount(y.reshape(-1)) / y.size
        prior = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=dtype)
    yt = torch.from_numpy(np.ascontiguousarray(y)).to(device)
    if yt.is_floating_point():
        yt = yt.to(dtype)
    return Batches(xt, yt, batch_size, seed, prior)
