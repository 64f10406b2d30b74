"""The same spec and seed on the CPU gives the same result, value for value; another seed
gives other values. Timing is the only part of a result allowed to differ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gradprobe.result import Result
from worker.run import execute

MODELS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "mlp": (
        {"type": "mlp", "depth": 3, "width": 16, "activation": "relu", "norm": "layer"},
        {"name": "teacher", "input_dim": 8, "classes": 4, "samples": 128},
        {"batch_size": 16},
    ),
    "cnn_batchnorm_dropout": (
        {
            "type": "graph",
            "nodes": [
                {"name": "c1", "op": "conv2d", "out_channels": 4},
                {"name": "n1", "op": "norm", "kind": "batch"},
                {"name": "a1", "op": "activation", "fn": "relu"},
                {"name": "d1", "op": "dropout", "p": 0.3},
                {"name": "c2", "op": "conv2d", "out_channels": 6},
                {"name": "n2", "op": "norm", "kind": "batch"},
                {"name": "a2", "op": "activation", "fn": "relu"},
                {"name": "pool", "op": "global_pool"},
                {"name": "d2", "op": "dropout", "p": 0.5},
                {"name": "out", "op": "linear", "out_features": 10},
            ],
        },
        {"name": "digits", "layout": "image"},
        {"batch_size": 8},
    ),
    "lstm": (
        {"type": "rnn", "cell": "lstm", "hidden": 8},
        {"name": "adding", "length": 6, "samples": 128},
        {"batch_size": 8},
    ),
}


def comparable(r: Result) -> dict[str, Any]:
    """Everything a run reports except its timing."""
    return {
        "steps": r.steps,
        "metrics": r.metrics,
        "loss": r.loss,
        "accuracy": r.accuracy,
        "timesteps": r.timesteps.model_dump() if r.timesteps else None,
        "histograms": r.histograms.model_dump() if r.histograms else None,
        "summary": r.summary.model_dump(),
        "layers": [la.model_dump() for la in r.layers],
        "warnings": r.warnings,
    }


@pytest.mark.parametrize("name", list(MODELS))
def test_same_seed_same_result_other_seed_other_values(
    name: str, make_spec: Callable[..., dict[str, Any]]
) -> None:
    model, data, kwargs = MODELS[name]
    common = {"steps": 4, "precision": "fp32", "histograms": True, **kwargs}
    doc = make_spec(model, data, seed=3, **common)
    other = make_spec(model, data, seed=4, **common)

    first = execute(doc)
    different = execute(other)  # in between: no state may leak from one run into the next
    again = execute(doc)

    a, b = comparable(first), comparable(again)
    for key in a:
        assert a[key] == b[key], key
    assert first.steps == [0, 1, 2, 3, 4]
    assert all(v is not None for v in first.loss)
    if name == "lstm":
        assert first.timesteps is not None and first.timesteps.layer == "rnn"

    c = comparable(different)
    assert c["loss"] != a["loss"]
    for metric in ("weight_grad_norm", "act_grad_norm", "weight_norm"):
        assert c["metrics"][metric] != a["metrics"][metric], metric
    if name == "lstm":
        assert c["timesteps"]["grad_norm"] != a["timesteps"]["grad_norm"]
