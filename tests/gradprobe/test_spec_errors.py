"""Bad specs raise a typed SpecError naming the JSON path of the offending field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradprobe.errors import SpecError
from gradprobe.plan import plan_document
from gradprobe.spec import Caps


def lin(name: str, out: int, inputs: list[str] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"op": "linear", "name": name, "out_features": out}
    if inputs is not None:
        node["inputs"] = inputs
    return node


def graph(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": {"type": "graph", "nodes": list(nodes), **extra}}


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("negative depth", {"model": {"type": "mlp", "depth": -3}}, "$.model.depth", "greater"),
    ("absurd depth", {"model": {"type": "mlp", "depth": 10**6}}, "$.model.depth", "less"),
    ("unknown family", {"model": {"type": "mlpp"}}, "$.model.type", "does not match"),
    ("unknown op", graph({"op": "convolve", "name": "a"}), "$.model.nodes[0].op", "convolve"),
    ("typo in a knob", {"model": {"type": "mlp", "dpeth": 3}}, "$.model.dpeth", "Extra"),
    (
        "NaN learning rate",
        {"model": {"type": "mlp"}, "train": {"optimizer": {"lr": float("nan")}}},
        "$.train.optimizer.lr",
        "finite",
    ),
    (
        "add of mismatched widths",
        graph(
            lin("a", 5), lin("b", 6, ["input"]), {"op": "add", "name": "c", "inputs": ["a", "b"]}
        ),
        "$.model.nodes[2].inputs",
        "(5,), (6,)",
    ),
    (
        "concat on the wrong axis",
        {
            "model": {
                "type": "graph",
                "nodes": [
                    {"op": "conv2d", "name": "a", "out_channels": 4},
                    {"op": "pool", "name": "p"},
                    {"op": "concat", "name": "c", "inputs": ["a", "p"]},
                ],
            },
            "data": {"name": "digits", "layout": "image"},
        },
        "$.model.nodes[2].axis",
        "other axes equal",
    ),
    (
        "concat axis out of range",
        graph(
            lin("a", 5),
            lin("b", 5, ["input"]),
            {"op": "concat", "name": "c", "inputs": ["a", "b"], "axis": 3},
        ),
        "$.model.nodes[2].axis",
        "out of range",
    ),
    (
        "an RNN fed images",
        {"model": {"type": "rnn"}, "data": {"name": "digits", "layout": "image"}},
        "$.model",
        "sequence",
    ),
    (
        "a cycle",
        graph(lin("a", 5, ["b"]), lin("b", 5, ["a"])),
        "$.model.nodes[0].inputs",
        "cycle",
    ),
    (
        "a dangling input",
        graph(lin("a", 5, ["nowhere"])),
        "$.model.nodes[0].inputs[0]",
        "unknown input",
    ),
    ("duplicate names", graph(lin("a", 5), lin("a", 10)), "$.model.nodes[1].name", "twice"),
    ("wrong head size", graph(lin("a", 7)), "$.model.nodes[0]", "needs (10,)"),
    (
        "unet too deep for 8x8",
        {"model": {"type": "unet", "levels": 4}},
        "$.model.levels",
        "does not fit",
    ),
    (
        "heads do not divide width",
        {"model": {"type": "transformer", "d_model": 30, "heads": 4}},
        "$.model.heads",
        "divide",
    ),
    (
        "too many parameters",
        {"model": {"type": "mlp", "depth": 500, "width": 4096}},
        "$.model",
        "cap",
    ),
    (
        "too many steps",
        {"model": {"type": "mlp"}, "train": {"steps": 10**6}},
        "$.train.steps",
        "cap",
    ),
    (
        "sequence too long",
        {"model": {"type": "rnn"}, "data": {"name": "adding", "length": 50_000}},
        "$.data.length",
        "cap",
    ),
    (
        "one-class teacher",
        {"model": {"type": "mlp"}, "data": {"name": "teacher", "classes": 1}},
        "$.data.classes",
        "2 classes",
    ),
    (
        "even kernel with same padding",
        graph({"op": "conv2d", "name": "c", "out_channels": 2, "kernel": 2}),
        "$.model.nodes[0].inputs",
        "image",
    ),
]


@pytest.mark.parametrize(("case", "raw", "path", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_spec_names_the_field(case: str, raw: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        plan_document(raw)
    paths = [e.path for e in info.value.errors]
    assert path in paths, f"{case}: {paths} / {info.value}"
    assert any(words in e.message for e in info.value.errors), str(info.value)


def test_caps_are_the_deployments_to_set() -> None:
    small = Caps(max_parameters=1000)
    with pytest.raises(SpecError) as info:
        plan_document({"model": {"type": "mlp", "depth": 2, "width": 64}}, small)
    assert info.value.errors[0].type == "cap_exceeded"
    assert plan_document({"model": {"type": "mlp", "depth": 2, "width": 4}}, small).params < 1000


def test_error_detail_is_serialisable() -> None:
    with pytest.raises(SpecError) as info:
        plan_document({"model": {"type": "mlp", "depth": 0}})
    detail = info.value.errors[0].to_dict()
    assert detail["loc"] == ["model", "depth"] and detail["path"] == "$.model.depth"


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("junk.npz", b"not a zip file at all", "not a readable .npz"),
        ("noy.npz", None, "arrays named 'x' and 'y'"),
        ("junk.csv", b"a,b\nfoo,bar\n", "finite numbers"),
        ("empty.csv", b"", "header"),
        ("data.txt", b"1,2,3", ".npz or .csv"),
    ],
)
def test_malformed_upload(tmp_path: Path, name: str, content: bytes | None, words: str) -> None:
    path = tmp_path / name
    if content is None:
        np.savez(path, a=np.zeros((3, 2)))
    else:
        path.write_bytes(content)
    with pytest.raises(SpecError) as info:
        plan_document({"model": {"type": "mlp"}, "data": {"name": "upload", "path": str(path)}})
    assert info.value.errors[0].path == "$.data.path"
    assert words in str(info.value)


def test_upload_over_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    np.savez(path, x=np.zeros((1000, 50)), y=np.zeros(1000))
    with pytest.raises(SpecError, match="over the cap"):
        plan_document(
            {"model": {"type": "mlp"}, "data": {"name": "upload", "path": str(path)}},
            Caps(max_upload_bytes=1000),
        )


def test_minimal_spec_is_valid_with_every_default() -> None:
    plan = plan_document({"model": {"type": "mlp", "depth": 50, "activation": "sigmoid"}})
    assert [la.name for la in plan.layers[:2]] == ["h1.linear", "h1.act"]
    assert plan.layers[-1].name == "out.linear" and plan.spec.data.name == "teacher"


def test_series_reads_by_position_in_a_document_filtered_to_some_layers() -> None:
    from gradprobe.result import Result

    doc = {
        "spec": {"model": {"type": "mlp", "depth": 2}},
        "layers": [{"name": "h2.linear", "op": "linear", "index": 2, "params": 10}],
        "steps": [0, 5],
        "metrics": {"weight_grad_norm": [[1.0], [2.0]]},
        "loss": [1.0, 0.5],
        "summary": {
            "verdict": "healthy",
            "reasons": [],
            "grad_ratio_first_last": None,
            "decay_per_layer": None,
            "decay_per_timestep": None,
            "loss_drop": None,
            "first_nonfinite_step": None,
        },
        "timing": {"step_ms": 1.0, "probe_overhead": 0.0},
    }
    assert Result.model_validate(doc).series("weight_grad_norm", "h2.linear") == [1.0, 2.0]
