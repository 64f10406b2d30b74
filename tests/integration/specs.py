"""Small specs, one per model family, quick enough to run over HTTP in CI."""

from __future__ import annotations

from typing import Any

TRAIN = {"steps": 20, "batch_size": 16, "device": "cpu", "seed": 3}
PROBE = {"every": 5}

FAMILY_MODELS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "mlp": ({"type": "mlp", "depth": 4, "width": 16, "norm": "batch"}, None),
    "cnn": ({"type": "cnn", "channels": [4, 8], "blocks": 1}, None),
    "unet": ({"type": "unet", "levels": 2, "base_channels": 4, "skips": True}, None),
    "densenet": (
        {"type": "densenet", "blocks": 2, "growth": 4, "layers_per_block": 2, "stem_channels": 4},
        None,
    ),
    "rnn": (
        {"type": "rnn", "cell": "lstm", "hidden": 8},
        {"name": "adding", "length": 6, "samples": 64},
    ),
    "transformer": (
        {"type": "transformer", "layers": 2, "d_model": 16, "heads": 2},
        {"name": "copy", "length": 3, "copy_len": 2, "samples": 64},
    ),
    "graph": (
        {
            "type": "graph",
            "nodes": [
                {"op": "linear", "name": "fc1", "out_features": 16},
                {"op": "activation", "name": "a1", "fn": "tanh"},
                {"op": "linear", "name": "fc2", "out_features": 16},
                {"op": "add", "name": "res", "inputs": ["a1", "fc2"]},
                {"op": "linear", "name": "out", "out_features": 10},
            ],
        },
        None,
    ),
}


def family_spec(family: str) -> dict[str, Any]:
    model, data = FAMILY_MODELS[family]
    spec: dict[str, Any] = {"name": family, "model": model, "train": TRAIN, "probe": PROBE}
    if data is not None:
        spec["data"] = data
    return spec


def long_spec(steps: int = 100_000) -> dict[str, Any]:
    """A job that runs for minutes unless stopped (cancel, kill and restart tests)."""
    return {
        "name": "long",
        "model": {"type": "mlp", "depth": 12, "width": 128},
        "train": {"steps": steps, "batch_size": 64, "device": "cpu"},
        "probe": {"every": 10},
    }


def progress_spec() -> dict[str, Any]:
    """Long enough (a few seconds) to be seen running with progress, short enough for CI."""
    return {
        "name": "progress",
        "model": {"type": "mlp", "depth": 10, "width": 128},
        "train": {"steps": 800, "batch_size": 64, "device": "cpu"},
        "probe": {"every": 10},
    }


def small_study(*extra: dict[str, Any]) -> dict[str, Any]:
    """A two-variant study of the MLP (batch norm; plain sigmoid), plus `extra` variants."""
    return {
        "name": "live",
        "base": family_spec("mlp"),
        "variants": [
            {"name": "bn", "remedy": "batch norm"},
            {"name": "plain", "overrides": {"model.norm": "none", "model.activation": "sigmoid"}},
            *extra,
        ],
    }
