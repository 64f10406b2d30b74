"""Reading a user's small data file (.npz or .csv) into arrays, with errors that name the field."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np

from gradprobe.errors import SpecError
from gradprobe.spec import UploadData
from gradprobe.spec.job import Caps

PATH = ("data", "path")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz or "y" not in npz:
                raise SpecError.at(PATH, "an .npz upload needs arrays named 'x' and 'y'")
            return np.asarray(npz["x"]), np.asarray(npz["y"])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise SpecError.at(PATH, f"not a readable .npz file ({exc})") from exc


def _read_csv(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on empty files; we raise instead
            table = np.genfromtxt(
                path, delimiter=",", names=True, dtype=np.float64, encoding="utf-8"
            )
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise SpecError.at(PATH, f"not a readable .csv file with a header row ({exc})") from exc
    names = table.dtype.names or ()
    if len(names) < 2 or table.size == 0:
        raise SpecError.at(
            PATH, "a .csv upload needs a header and rows of at least 2 numeric columns"
        )
    column = target if target is not None else names[-1]
    if column not in names:
        raise SpecError.at(
            ("data", "target"), f"no column {column!r}; the header has {list(names)}"
        )
    columns = {n: np.atleast_1d(table[n]) for n in names}  # type: ignore[call-overload]  # a one-row file reads as a scalar
    x = np.stack([columns[n] for n in names if n != column], axis=1)
    return x, columns[column]


def read_upload(data: UploadData, caps: Caps) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as float32 inputs and int64 labels (classify) or float32 targets (regress)."""
    path = Path(data.path)
    if not path.is_file():
        raise SpecError.at(PATH, f"no such file: {data.path}")
    size = path.stat().st_size
    if size > caps.max_upload_bytes:
        raise SpecError.at(PATH, f"upload is {size} bytes, over the cap of {caps.max_upload_bytes}")
    if path.suffix == ".npz":
        x, y = _read_npz(path)
    elif path.suffix == ".csv":
        x, y = _read_csv(path, data.target)
    else:
        raise SpecError.at(PATH, "uploads must be .npz or .csv files")
    if x.ndim < 2 or y.ndim < 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise SpecError.at(
            PATH, f"x {x.shape} and y {y.shape} must be non-empty and share their first axis"
        )
    if not (np.issubdtype(x.dtype, np.number) and np.isfinite(x).all()):
        raise SpecError.at(PATH, "x must hold finite numbers")
    return x.astype(np.float32), _targets(y, data.task)


def _targets(y: np.ndarray, task: str) -> np.ndarray:
    if not (np.issubdtype(y.dtype, np.number) and np.isfinite(y).all()):
        raise SpecError.at(PATH, "y must hold finite numbers")
    if task == "regress":
        return y.astype(np.float32).reshape(len(y), -1)
    if y.ndim != 1 or (y < 0).any() or (y != np.round(y)).any():
        raise SpecError.at(PATH, "y must be one integer class label 0..K-1 per example")
    return y.astype(np.int64)
