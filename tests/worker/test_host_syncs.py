"""Statistics stay on the device: during training, gradprobe's own code copies values to the
host once per probe and never per layer or per step (no .item(), no float(tensor)). On a CPU
there is nothing to sync, so the test counts the calls that would sync on CUDA, made from
the worker package's own frames."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch

import worker.trainer
from worker.run import execute

SYNCING = (
    "item",
    "tolist",
    "cpu",
    "__float__",
    "__int__",
    "__bool__",
)  # .numpy() needs a host tensor


@contextmanager
def count_host_reads(counts: Counter[str]) -> Iterator[None]:
    originals = {name: getattr(torch.Tensor, name) for name in SYNCING}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_filename
            if "/worker/" in caller:
                counts[f"{name}@{caller.rsplit('/', 2)[-2]}/{caller.rsplit('/', 1)[-1]}"] += 1
            return fn(self, *args, **kwargs)

        return counted

    try:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, wrap(name, fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)


@pytest.mark.parametrize(
    "model",
    [
        {"type": "mlp", "depth": 6, "width": 16, "activation": "tanh", "norm": "batch"},
        {"type": "rnn", "cell": "lstm", "hidden": 8},
        {"type": "transformer", "layers": 2, "d_model": 16, "heads": 2},
    ],
    ids=lambda m: m["type"],
)
@pytest.mark.parametrize("host_paths", [True, False], ids=["host", "accelerator"])
def test_one_host_copy_per_probe(
    model: dict[str, Any], host_paths: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the CPU's host paths nothing would sync (values are read in host memory); with the
    accelerator's paths forced onto the CPU, one copy per probe."""
    if not host_paths:
        for module in ("stats.norms", "stats.base", "stats.accuracy", "recorder"):
            monkeypatch.setattr(f"worker.{module}.is_host", lambda t: False)
    counts: Counter[str] = Counter()
    real_train = worker.trainer.train

    def counted_train(*args: Any, **kwargs: Any) -> Any:
        with count_host_reads(counts):
            return real_train(*args, **kwargs)

    monkeypatch.setattr("worker.run.train", counted_train)
    data = {"name": "adding", "length": 6, "samples": 64} if model["type"] == "rnn" else None
    spec: dict[str, Any] = {
        "model": model,
        "train": {"steps": 30, "batch_size": 8, "device": "cpu"},
        "probe": {"every": 10, "histograms": True},
    }
    if data:
        spec["data"] = data
    result = execute(spec)
    probes = len(result.steps)
    assert probes == 4
    expected = Counter() if host_paths else Counter({"cpu@worker/recorder.py": probes})
    assert counts == expected, counts
