"""POST /v1/specs/validate and GET /v1/presets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from gradprobe.plan import plan_document
from service.settings import Settings

Headers = dict[str, str]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_validate_expands_the_spec_and_queues_nothing(
    client: TestClient, alice: Headers, queued: Callable[[], list[str]], settings: Settings
) -> None:
    spec = {"model": {"type": "mlp", "depth": 3, "width": 16}}
    r = client.post("/v1/specs/validate", json=spec, headers=alice)
    assert r.status_code == 200
    plan = r.json()
    expected = plan_document(spec, settings.caps())
    assert plan["valid"] is True
    assert [la["name"] for la in plan["layers"]] == [la.name for la in expected.layers]
    assert plan["params"] == expected.params > 0
    assert plan["params"] == sum(la["params"] for la in plan["layers"])
    assert plan["flops"] == expected.flops and plan["activation_bytes"] > 0
    first = plan["layers"][0]
    assert first["op"] == "linear" and first["shape"] == [16] and first["inputs"] == ["input"]
    assert plan["spec"]["train"]["steps"] == 200  # defaults filled in
    assert queued() == []
    assert client.get("/v1/jobs", headers=alice).json()["items"] == []


def test_validate_names_every_bad_field(client: TestClient, alice: Headers) -> None:
    spec = {"model": {"type": "mlp", "depth": 0}, "probe": {"every": 0}, "extra": 1}
    r = client.post("/v1/specs/validate", json=spec, headers=alice)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert {e["path"] for e in r.json()["errors"]} == {"$.model.depth", "$.probe.every", "$.extra"}


def test_validate_applies_the_caps(client: TestClient, alice: Headers, settings: Settings) -> None:
    spec = {"model": {"type": "rnn"}, "data": {"name": "adding", "length": 5000}}
    r = client.post("/v1/specs/validate", json=spec, headers=alice)
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["$.data.length"]


def test_presets_are_the_examples_and_the_remedies_study(
    client: TestClient, alice: Headers
) -> None:
    r = client.get("/v1/presets", headers=alice)
    assert r.status_code == 200
    items = r.json()["items"]
    specs = {p["name"]: p for p in items if p["kind"] == "spec"}
    files = {p.stem: json.loads(p.read_text()) for p in EXAMPLES.glob("*.json")}
    assert len(files) >= 9 and set(specs) == set(files)
    for name, doc in files.items():
        assert specs[name]["spec"] == doc and specs[name]["title"] == doc["name"]
    studies = {p["name"]: p for p in items if p["kind"] == "study"}
    study = studies["vanishing-gradient-remedies"]
    assert study["base"] == files["plain-deep-mlp"]
    variants = {v["name"]: v for v in study["variants"]}
    assert set(variants) == {
        "plain-deep-mlp",
        "batchnorm-mlp",
        "residual-mlp",
        "unet-skips",
        "unet-no-skips",
        "rnn-tanh",
        "lstm",
    }
    assert variants["lstm"]["compare_with"] == "rnn-tanh"
    assert variants["unet-skips"]["compare_with"] == "unet-no-skips"
    assert all(v["spec"] == files[n] for n, v in variants.items())


def test_every_preset_validates(client: TestClient, alice: Headers) -> None:
    """Spec presets here; the cells of study presets in test_api_studies.py."""
    for preset in client.get("/v1/presets", headers=alice).json()["items"]:
        specs = [preset["spec"]] if preset["kind"] == "spec" else [preset["base"]]
        for spec in specs:
            r = client.post("/v1/specs/validate", json=spec, headers=alice)
            assert r.status_code == 200, (preset["name"], r.text)


def test_examples_are_links_to_the_packaged_presets() -> None:
    for path in EXAMPLES.glob("*.json"):
        assert path.is_symlink(), path
        target = path.resolve()
        assert target.parent.name == "preset_specs" and target.parent.parent.name == "service"


def test_a_family_that_expands_past_a_node_bound_is_422(client: TestClient, alice: Headers) -> None:
    """Found by schemathesis: a U-Net whose channels double past a conv's bound."""
    spec = {"model": {"type": "unet", "levels": 6, "base_channels": 1025}}
    r = client.post("/v1/specs/validate", json=spec, headers=alice)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["path"].startswith("$.model") and "out_channels" in error["message"]


def test_a_spec_naming_a_server_file_is_refused_on_every_route(
    client: TestClient, alice: Headers
) -> None:
    spec = {"model": {"type": "mlp", "depth": 2}, "data": {"name": "upload", "path": "/etc/hosts"}}
    for route in ("/v1/specs/validate", "/v1/jobs"):
        r = client.post(route, json=spec, headers=alice)
        assert r.status_code == 422, r.text
        assert [e["path"] for e in r.json()["errors"]] == ["$.data.path"]
        assert "/etc/hosts" not in r.text
    assert client.get("/v1/jobs", headers=alice).json()["items"] == []
