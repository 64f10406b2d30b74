"""`validate` and `presets`."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import Cli, Server
from tests.client.factories import problem

PLAN = {
    "valid": True,
    "spec": {"model": {"type": "mlp", "depth": 1, "width": 16}},
    "layers": [
        {
            "name": "h1.linear",
            "op": "linear",
            "inputs": ["input"],
            "shape": [16],
            "params": 1040,
            "flops": 2048,
        },
        {
            "name": "out.linear",
            "op": "linear",
            "inputs": ["h1.linear"],
            "shape": [10],
            "params": 170,
            "flops": 320,
        },
    ],
    "output": "out.linear",
    "params": 1210,
    "flops": 2368,
    "activation_bytes": 87040,
}
INVALID = problem(
    422,
    "invalid-spec",
    "the spec is not valid",
    errors=[{"path": "$.model.depth", "message": "Input should be >= 1", "type": "x"}],
)


def spec_file(tmp_path) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "spec.json"
    path.write_text('{"model": {"type": "mlp", "depth": 1, "width": 16}}')
    return str(path)


def test_validate_prints_the_layers_and_the_cost(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/specs/validate", PLAN)
    done = cli("validate", spec_file(tmp_path))
    assert done.exit_code == 0, done.output
    for text in ("h1.linear", "out.linear", "1,040", "1,210 parameters", "2,368", "85.0 KiB"):
        assert text in done.stdout
    assert json.loads(cli("validate", spec_file(tmp_path), "--json").stdout) == PLAN


def test_an_invalid_spec_exits_1_naming_each_path(cli: Cli, server: Server, tmp_path) -> None:
    server.on("POST", "/v1/specs/validate", INVALID)
    done = cli("validate", spec_file(tmp_path))
    assert done.exit_code == 1
    assert "the spec is not valid" in done.stderr
    assert "$.model.depth: Input should be >= 1" in done.stderr
    error = json.loads(cli("validate", spec_file(tmp_path), "--json").stdout)["error"]
    assert error["status"] == 422 and [e["path"] for e in error["errors"]] == ["$.model.depth"]


def test_presets(cli: Cli, server: Server) -> None:
    items = [
        {"kind": "spec", "name": "lstm", "title": "LSTM", "spec": {}},
        {
            "kind": "study",
            "name": "remedies",
            "title": "Five",
            "base": {},
            "variants": [{"name": "a"}, {"name": "b"}],
        },
        {
            "kind": "study",
            "name": "acts",
            "title": "Acts",
            "base": {},
            "grid": {"model.activation": ["relu", "tanh"]},
        },
    ]
    server.on("GET", "/v1/presets", httpx.Response(200, json={"items": items}))
    done = cli("presets")
    assert done.exit_code == 0, done.output
    for text in ("lstm", "remedies", "2 variants", "grid over model.activation"):
        assert text in done.stdout
    assert [p["name"] for p in json.loads(cli("presets", "--json").stdout)] == [
        "lstm",
        "remedies",
        "acts",
    ]
