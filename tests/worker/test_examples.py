"""Every spec in examples/ parses, plans, and runs (shortened to 2 steps)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from gradprobe.plan import plan_document
from worker.run import execute

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.glob("*.json"))


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Small nets: extra intra-op threads only spin on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_examples_are_there() -> None:
    names = {p.stem for p in FILES}
    assert {
        "plain-deep-mlp",
        "batchnorm-mlp",
        "residual-mlp",
        "unet-skips",
        "unet-no-skips",
        "rnn-tanh",
        "lstm",
        "transformer-post-ln",
        "transformer-pre-ln",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_example_parses_and_runs(path: Path) -> None:
    spec = json.loads(path.read_text())
    plan_document(spec)  # raises SpecError naming the field if the document is wrong
    short = {**spec, "train": {**spec.get("train", {}), "steps": 2}}
    r = execute(short)
    assert r.steps[0] == 0 and r.steps[-1] == 2
    assert r.loss and all(v is not None and math.isfinite(v) for v in r.loss)
    assert r.summary.verdict != "diverged"
    assert r.spec.name == spec["name"]
