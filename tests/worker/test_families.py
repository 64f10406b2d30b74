"""Every family, op, activation, init, optimizer and data source builds, trains a few steps
on the CPU, and gives a result that validates against the result model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradprobe.result import Result
from gradprobe.spec import ACTIVATIONS
from gradprobe.spec.common import InitScheme
from worker.run import execute

QUICK = {"steps": 3, "batch_size": 16, "device": "cpu"}
PROBE = {"every": 1, "histograms": True}


def run(model: dict[str, Any], data: dict[str, Any] | None = None, **train: Any) -> Result:
    spec: dict[str, Any] = {"model": model, "train": {**QUICK, **train}, "probe": PROBE}
    if data is not None:
        spec["data"] = data
    result = execute(spec)
    again = Result.model_validate_json(result.model_dump_json())  # the document round-trips
    assert again.layers == result.layers and again.steps == [0, 1, 2, 3]
    n = len(result.layers)
    for name, grid in result.metrics.items():
        assert len(grid) == len(result.steps) and all(len(row) == n for row in grid), name
    assert all(v is not None for v in result.metrics["act_grad_norm"][0][: n - 1])
    assert result.loss[0] is not None and result.summary.verdict
    return result


FAMILIES = [
    {"type": "mlp", "depth": 3, "width": 16, "norm": "batch", "residual": True, "dropout": 0.1},
    {
        "type": "mlp",
        "depth": 4,
        "width": 16,
        "norm": "layer",
        "norm_position": "after",
        "residual": 2,
    },
    {"type": "mlp", "depth": 2, "width": 16, "norm": "rms"},
    {
        "type": "cnn",
        "channels": [4, 8],
        "blocks": 1,
        "norm": "batch",
        "residual": True,
        "pooling": "stride",
    },
    {"type": "cnn", "channels": [4, 8], "blocks": 2, "pooling": "avg", "kernel": 5},
    {"type": "unet", "levels": 2, "base_channels": 4, "skips": True},
    {
        "type": "unet",
        "levels": 2,
        "base_channels": 4,
        "skips": True,
        "skip_mode": "add",
        "norm": "layer",
    },
    {"type": "unet", "levels": 1, "base_channels": 4, "skips": False},
    {"type": "densenet", "blocks": 2, "growth": 4, "layers_per_block": 2, "stem_channels": 4},
    {"type": "rnn", "cell": "tanh", "hidden": 8},
    {"type": "rnn", "cell": "relu", "hidden": 8, "layers": 2},
    {"type": "rnn", "cell": "lstm", "hidden": 8, "forget_bias": 2.0},
    {"type": "rnn", "cell": "gru", "hidden": 8},
    {
        "type": "transformer",
        "layers": 2,
        "d_model": 16,
        "heads": 2,
        "norm_position": "post",
        "dropout": 0.1,
    },
    {"type": "transformer", "layers": 2, "d_model": 16, "heads": 4, "causal": True},
]


@pytest.mark.parametrize("model", FAMILIES, ids=lambda m: f"{m['type']}-{len(m)}")
def test_family_trains(model: dict[str, Any]) -> None:
    data = {"name": "adding", "length": 6, "samples": 64} if model["type"] == "rnn" else None
    if model["type"] == "transformer":
        data = {"name": "copy", "length": 3, "copy_len": 2, "samples": 64}
    result = run(model, data)
    if model["type"] == "rnn":
        assert result.timesteps is not None and len(result.timesteps.grad_norm[0]) == 6
        assert all(v > 0 for v in result.timesteps.grad_norm[0])


IMAGE_GRAPH = [
    {"op": "conv2d", "name": "c1", "out_channels": 4},
    {"op": "norm", "name": "bn", "kind": "batch"},
    {"op": "activation", "name": "a1", "fn": "relu"},
    {"op": "pool", "name": "p", "kind": "avg"},
    {
        "op": "conv2d",
        "name": "c2",
        "out_channels": 4,
        "kernel": 1,
        "padding": "valid",
        "bias": False,
    },
    {"op": "upsample", "name": "up"},
    {"op": "conv_transpose2d", "name": "ct", "out_channels": 4, "inputs": ["p"]},
    {"op": "add", "name": "sum", "inputs": ["up", "ct"]},
    {"op": "concat", "name": "cat", "inputs": ["sum", "a1"]},
    {"op": "norm", "name": "ln", "kind": "layer"},
    {"op": "conv2d", "name": "s2", "out_channels": 4, "stride": 2},
    {"op": "global_pool", "name": "gp", "kind": "max", "inputs": ["s2"]},
    {"op": "flatten", "name": "fl", "inputs": ["s2"]},
    {"op": "linear", "name": "fc", "out_features": 4},
    {"op": "concat", "name": "both", "inputs": ["gp", "fc"]},
    {"op": "dropout", "name": "drop", "p": 0.2},
    {
        "op": "repeat",
        "name": "blocks",
        "times": 2,
        "body": [
            {"op": "linear", "name": "fc", "out_features": 8, "init": {"scheme": "orthogonal"}},
            {"op": "activation", "name": "act", "fn": "tanh"},
            {"op": "add", "name": "res", "inputs": ["in", "act"]},
        ],
    },
    {"op": "linear", "name": "out", "out_features": 10, "inputs": ["blocks"]},
]

SEQUENCE_GRAPH = [
    {"op": "linear", "name": "embed", "out_features": 8},
    {"op": "pos_embed", "name": "pos"},
    {"op": "norm", "name": "rms", "kind": "rms"},
    {"op": "attention", "name": "attn", "heads": 2},
    {"op": "norm", "name": "bn", "kind": "batch"},
    {"op": "rnn", "name": "rnn", "cell": "gru", "hidden": 8},
    {"op": "global_pool", "name": "mean", "inputs": ["attn"]},
    {"op": "last", "name": "last", "inputs": ["rnn"]},
    {"op": "add", "name": "sum", "inputs": ["mean", "last"]},
    {"op": "linear", "name": "out", "out_features": 1},
]


def test_graph_with_every_image_op() -> None:
    result = run({"type": "graph", "nodes": IMAGE_GRAPH}, {"name": "digits", "layout": "image"})
    names = [la.name for la in result.layers]
    assert "blocks.1.res" in names and names[-1] == "out"


def test_graph_with_every_sequence_op() -> None:
    result = run(
        {"type": "graph", "nodes": SEQUENCE_GRAPH}, {"name": "adding", "length": 5, "samples": 64}
    )
    assert result.timesteps is not None and result.timesteps.layer == "rnn"


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation(activation: str) -> None:
    result = run({"type": "mlp", "depth": 2, "width": 8, "activation": activation})
    act = result.layers[result.layer_index("h1.act")]
    assert act.activation == activation
    sat = result.series("saturated_frac", "h1.act")
    dead = result.series("dead_frac", "h1.act")
    assert (sat[0] is not None) == (activation in ("tanh", "sigmoid", "softsign"))
    assert (dead[0] is not None) == (activation in ("relu", "leaky_relu", "elu", "selu"))


@pytest.mark.parametrize("scheme", InitScheme.__args__)  # type: ignore[attr-defined]
def test_init_scheme(scheme: str) -> None:
    init = {"scheme": scheme, "sigma_w": 1.5, "sigma_b": 0.1}
    run({"type": "mlp", "depth": 2, "width": 8, "init": init})
    run(
        {"type": "rnn", "cell": "lstm", "hidden": 8, "init": init},
        {"name": "adding", "length": 4, "samples": 32},
    )


def test_normal_init_has_the_mean_field_variances() -> None:
    """W ~ N(0, sigma_w^2 / fan_in): the measured weight norm at init is sigma_w * sqrt(fan_out)."""
    result = execute(
        {
            "model": {
                "type": "mlp",
                "depth": 2,
                "width": 512,
                "init": {"scheme": "normal", "sigma_w": 2.0},
            },
            "data": {"name": "teacher", "input_dim": 512, "samples": 64},
            "train": {"steps": 0, "batch_size": 8, "device": "cpu"},
        }
    )
    norm = result.series("weight_norm", "h2.linear")[0]
    assert norm == pytest.approx(2.0 * np.sqrt(512), rel=0.02)


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "sgd", "momentum": 0.0},
        {"name": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4},
        {"name": "adam", "lr": 1e-3},
        {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01},
        {"name": "rmsprop", "lr": 1e-3},
    ],
    ids=lambda o: o["name"],
)
def test_optimizer(optimizer: dict[str, Any]) -> None:
    result = run(
        {"type": "mlp", "depth": 2, "width": 8},
        optimizer=optimizer,
        schedule={"name": "cosine", "warmup_steps": 2},
        clip={"max_norm": 1.0, "max_value": 0.5},
    )
    assert result.series("update_ratio", "h1.linear")[0] > 0  # the step moved the weights


DATA: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"name": "teacher", "input_dim": 12, "classes": 3, "samples": 64},
        {"type": "mlp", "depth": 2, "width": 8},
    ),
    (
        {"name": "teacher", "input_dim": 12, "classes": 0, "samples": 64, "noise": 0.1},
        {"type": "mlp", "depth": 2},
    ),
    (
        {"name": "teacher", "input_shape": [1, 8, 8], "samples": 64},
        {"type": "cnn", "channels": [4]},
    ),
    ({"name": "digits"}, {"type": "mlp", "depth": 2, "width": 8}),
    ({"name": "digits", "layout": "rows"}, {"type": "rnn", "cell": "gru", "hidden": 8}),
    ({"name": "digits", "task": "denoise"}, {"type": "unet", "levels": 1, "base_channels": 4}),
    ({"name": "adding", "length": 8, "samples": 64}, {"type": "rnn", "hidden": 8}),
    (
        {"name": "copy", "length": 4, "copy_len": 3, "alphabet": 4, "samples": 64},
        {"type": "rnn", "hidden": 8},
    ),
]


@pytest.mark.parametrize(("data", "model"), DATA, ids=lambda x: str(x.get("name", x.get("type"))))
def test_data_source(data: dict[str, Any], model: dict[str, Any]) -> None:
    result = run(model, data)
    has_accuracy = (
        data.get("classes", 10) > 0 and data.get("task") != "denoise" and data["name"] != "adding"
    )
    assert (result.accuracy is not None) == has_accuracy


def test_upload_npz_and_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    rows = "\n".join(",".join(f"{v:.4f}" for v in r) + f",{c}" for r, c in zip(x, y, strict=True))
    (tmp_path / "d.csv").write_text("a,b,c,d,e,label\n" + rows + "\n")
    for name in ("d.npz", "d.csv"):
        result = run(
            {"type": "mlp", "depth": 2, "width": 8},
            {"name": "upload", "path": str(tmp_path / name)},
        )
        assert result.layers[-1].shape == [3]
    regress = run(
        {"type": "mlp", "depth": 2, "width": 8},
        {"name": "upload", "path": str(tmp_path / "d.csv"), "task": "regress", "target": "a"},
    )
    assert regress.accuracy is None and regress.layers[-1].shape == [1]
