"""/v1/studies in process: a real SQLite store and the filesystem broker; results stored as a
worker stores them (the session's real result document)."""

from __future__ import annotations

import gzip
import io
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from matplotlib.image import imread

from gradprobe.plots import COMPARE_SIZE, DPI
from service.api.app import create_app
from service.api.study_cells import expand, parse_study, plan_cells
from service.api.study_views import aggregate
from service.presets import presets
from service.settings import Settings
from service.store.db import session_scope
from service.store.models import Job, Study

Headers = dict[str, str]
BAD_X = {"type": "mlp", "x": 1}
BAD_DEPTH = {"type": "mlp", "depth": 0}
TINY: dict[str, Any] = {"model": {"type": "mlp", "depth": 2, "width": 8}, "train": {"steps": 5}}


def post(client: TestClient, who: Headers, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/studies", json=body, headers={**who, **headers})


def counts(settings: Settings) -> tuple[int, int]:
    with session_scope(settings.store_url) as s:
        return s.query(Study).count(), s.query(Job).count()


def test_a_grid_is_the_cartesian_product_one_queued_job_per_cell(
    client: TestClient, alice: Headers, queued: Callable[[], list[str]]
) -> None:
    grid = {"model.depth": [2, 3], "model.norm": ["none", "batch"]}
    r = post(client, alice, {"name": "depth x norm", "base": TINY, "grid": grid})
    assert r.status_code == 202, r.text
    view = r.json()
    assert r.headers["location"] == f"/v1/studies/{view['id']}" and view["id"].startswith("study_")
    assert view["name"] == "depth x norm" and view["status"] == "queued"
    assert view["counts"] == {"queued": 4} and view["table"] == []
    names = [c["variant"] for c in view["cells"]]
    assert names == [
        "model.depth=2,model.norm=none",
        "model.depth=2,model.norm=batch",
        "model.depth=3,model.norm=none",
        "model.depth=3,model.norm=batch",
    ]
    assert view["cells"][3]["overrides"] == {"model.depth": 3, "model.norm": "batch"}
    assert len(queued()) == 4
    for cell in view["cells"]:
        spec = client.get(f"/v1/jobs/{cell['job_id']}", headers=alice).json()
        assert spec["status"] == "queued" and spec["progress"]["total"] == 5
    got = client.get(f"/v1/studies/{view['id']}", headers=alice).json()
    assert got["cells"] == view["cells"] and got["status"] == "queued"


def test_variants_take_overrides_or_a_whole_spec(
    client: TestClient, alice: Headers, spec: dict[str, Any], settings: Settings
) -> None:
    variants = [
        {"name": "plain", "remedy": "none"},
        {"name": "res", "overrides": {"model.residual": True}, "compare_with": "plain"},
        {"name": "rnn", "spec": spec, "overrides": {"model.hidden": 4}},
    ]
    r = post(client, alice, {"base": TINY, "variants": variants})
    assert r.status_code == 202, r.text
    cells = r.json()["cells"]
    assert [(c["variant"], c["remedy"], c["compare_with"]) for c in cells] == [
        ("plain", "none", None),
        ("res", None, "plain"),
        ("rnn", None, None),
    ]
    with session_scope(settings.store_url) as s:
        jobs = {j.variant: j.spec for j in s.query(Job)}
    assert jobs["res"]["model"]["residual"] is True and jobs["plain"]["model"]["residual"] is False
    assert jobs["rnn"]["model"]["type"] == "rnn" and jobs["rnn"]["model"]["hidden"] == 4


def _errors(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return list(r.json()["errors"])


@pytest.mark.parametrize(
    ("body", "path", "cell", "spec_path"),
    [
        (
            {"base": TINY, "grid": {"model.depth": [2, 0]}},
            "$.grid['model.depth'][1]",
            "model.depth=0",
            "$.model.depth",
        ),
        (
            {
                "base": TINY,
                "variants": [
                    {"name": "a"},
                    {"name": "b"},
                    {"name": "c", "overrides": {"model.depth": -1}},
                ],
            },
            "$.variants[2].overrides['model.depth']",
            "c",
            "$.model.depth",
        ),
        (
            {
                "base": TINY,
                "variants": [
                    {"name": "a"},
                    {"name": "b", "spec": {"model": {"type": "mlp", "x": 1}}},
                ],
            },
            "$.variants[1].spec.model.x",
            "b",
            "$.model.x",
        ),
        (
            {
                "base": TINY,
                "variants": [{"name": "a", "overrides": {"model": {"type": "mlp", "depth": 0}}}],
            },
            "$.variants[0].overrides.model.depth",
            "a",
            "$.model.depth",
        ),
        (
            {"base": {**TINY, "train": {"steps": -1}}, "grid": {"model.depth": [2]}},
            "$.base.train.steps",
            "model.depth=2",
            "$.train.steps",
        ),
    ],
)
def test_a_bad_cell_is_named_and_nothing_is_stored(
    client: TestClient,
    alice: Headers,
    settings: Settings,
    queued: Callable[[], list[str]],
    body: dict[str, Any],
    path: str,
    cell: str,
    spec_path: str,
) -> None:
    (error,) = _errors(post(client, alice, body))
    assert (error["path"], error["cell"], error["spec_path"]) == (path, cell, spec_path)
    assert cell in error["message"]
    assert counts(settings) == (0, 0) and queued() == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"base": TINY}, "$"),
        ({"base": TINY, "grid": {"model.depth": [2]}, "variants": [{"name": "a"}]}, "$"),
        ({"base": TINY, "grid": {"model.depth": []}}, "$.grid['model.depth']"),
        ({"grid": {"model.depth": [2]}}, "$.base"),
        ({"base": TINY, "grid": {"model..depth": [2]}}, "$.grid['model..depth'][0]"),
        ({"base": TINY, "grid": {"model.depth.x": [2]}}, "$.grid['model.depth.x'][0]"),
        ({"base": TINY, "variants": [{"name": "a"}, {"name": "a"}]}, "$.variants[1].name"),
        (
            {"base": TINY, "variants": [{"name": "a", "compare_with": "z"}]},
            "$.variants[0].compare_with",
        ),
        ({"base": TINY, "variants": [{"name": "a", "x": 1}]}, "$.variants[0].x"),
    ],
)
def test_a_malformed_study_is_a_422_naming_the_field(
    client: TestClient, alice: Headers, settings: Settings, body: dict[str, Any], path: str
) -> None:
    assert [e["path"] for e in _errors(post(client, alice, body))] == [path]
    assert counts(settings) == (0, 0)


def test_the_cell_cap_and_the_active_job_limit_count_every_cell(
    home: Path, make_settings: Callable[..., Settings], new_key: Callable[[Settings, str], str]
) -> None:
    s = make_settings(home, max_study_cells=4, max_active_jobs=6)
    who = {"Authorization": f"Bearer {new_key(s, 'carol')}"}
    with TestClient(create_app(s)) as client:
        grid = {"model.depth": [1, 2, 3], "model.width": [4, 8]}
        (error,) = _errors(post(client, who, {"base": TINY, "grid": grid}))
        assert error["path"] == "$.grid" and error["type"] == "cap_exceeded"
        five = [{"name": str(i)} for i in range(5)]
        (error,) = _errors(post(client, who, {"base": TINY, "variants": five}))
        assert error["path"] == "$.variants" and error["type"] == "cap_exceeded"
        four = {"base": TINY, "variants": five[:4]}
        assert post(client, who, four).status_code == 202
        r = post(client, who, {"base": TINY, "variants": five[:3]})  # 4 active + 3 > 6
        assert r.status_code == 429 and r.headers["retry-after"]
        assert counts(s) == (1, 4)


def test_idempotency_key_gives_the_same_study(
    client: TestClient, alice: Headers, settings: Settings
) -> None:
    body = {"base": TINY, "grid": {"model.depth": [2, 3]}}
    first = post(client, alice, body, **{"Idempotency-Key": "k1"})
    again = post(client, alice, body, **{"Idempotency-Key": "k1"})
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and counts(settings) == (1, 2)
    other = post(client, alice, {**body, "name": "x"}, **{"Idempotency-Key": "k1"})
    assert _errors(other)[0]["path"] == "header.idempotency-key"
    job = client.post("/v1/jobs", json=TINY, headers={**alice, "Idempotency-Key": "k1"})
    assert job.status_code == 422  # the key is the study's


def test_another_tenants_study_does_not_exist(
    client: TestClient, alice: Headers, bob: Headers, finished_study: dict[str, Any]
) -> None:
    url = f"/v1/studies/{finished_study['id']}"
    for r in (
        client.get(url, headers=bob),
        client.post(f"{url}/cancel", headers=bob),
        client.get(f"{url}/plots/compare.png", headers=bob),
        client.get("/v1/studies/study_nope", headers=alice),
    ):
        assert r.status_code == 404 and r.json()["type"].endswith("study-not-found")
    assert client.get("/v1/studies", headers=bob).json() == {"items": [], "next_cursor": None}


@pytest.fixture
def finished_study(
    client: TestClient,
    alice: Headers,
    spec: dict[str, Any],
    settings: Settings,
    result_document: bytes,
    store_result: Callable[[Settings, str, bytes], None],
) -> dict[str, Any]:
    """alice's study of two cells: the first succeeded with the real result document."""
    body = {"base": spec, "variants": [{"name": "rnn"}, {"name": "wide", "overrides": {}}]}
    view: dict[str, Any] = post(client, alice, body).json()
    store_result(settings, view["cells"][0]["job_id"], result_document)
    return view


def test_the_table_status_and_cancel(
    client: TestClient,
    alice: Headers,
    finished_study: dict[str, Any],
    result_document: bytes,
) -> None:
    url = f"/v1/studies/{finished_study['id']}"
    view = client.get(url, headers=alice).json()
    assert view["status"] == "running" and view["counts"] == {"succeeded": 1, "queued": 1}
    doc = json.loads(result_document)
    (row,) = view["table"]
    assert row["variant"] == "rnn" and row["job_id"] == view["cells"][0]["job_id"]
    summary = doc["summary"]
    assert row["verdict"] == summary["verdict"]
    assert row["grad_ratio_first_last"] == summary["grad_ratio_first_last"]
    assert row["decay_over"] == "timestep" and row["decay"] == summary["decay_per_timestep"]
    assert row["loss_drop"] == summary["loss_drop"]
    assert row["final_accuracy"] == [a for a in doc["accuracy"] if a is not None][-1]
    assert row["step_ms"] == doc["timing"]["step_ms"]
    assert view["cells"][0]["progress"]["step"] == doc["steps"][-1]

    cancelled = client.post(f"{url}/cancel", headers=alice)
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "partial"
    assert cancelled.json()["counts"] == {"succeeded": 1, "cancelled": 1}
    assert client.post(f"{url}/cancel", headers=alice).status_code == 409


def test_the_comparison_plot(
    client: TestClient, alice: Headers, finished_study: dict[str, Any], spec: dict[str, Any]
) -> None:
    url = f"/v1/studies/{finished_study['id']}/plots"
    png = client.get(f"{url}/compare.png", headers=alice)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    pixels = imread(io.BytesIO(png.content), format="png")
    assert pixels.shape[:2] == (round(COMPARE_SIZE[1] * DPI), round(COMPARE_SIZE[0] * DPI))
    assert pixels[..., :3].std() > 0.05
    svg = client.get(f"{url}/compare.svg", headers=alice)
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.get(f"{url}/grad_flow.png", headers=alice).status_code == 404
    waiting = post(client, alice, {"base": spec, "grid": {"model.hidden": [4]}}).json()
    r = client.get(f"/v1/studies/{waiting['id']}/plots/compare.png", headers=alice)
    assert r.status_code == 409


def test_list_pages_newest_first(client: TestClient, alice: Headers) -> None:
    ids = [
        post(client, alice, {"base": TINY, "grid": {"model.depth": [2]}}).json()["id"]
        for _ in range(3)
    ]
    first = client.get("/v1/studies?limit=2", headers=alice).json()
    assert [s["id"] for s in first["items"]] == ids[::-1][:2]
    assert first["items"][0]["status"] == "queued" and first["items"][0]["counts"] == {"queued": 1}
    rest = client.get(f"/v1/studies?limit=2&cursor={first['next_cursor']}", headers=alice).json()
    assert [s["id"] for s in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert client.get("/v1/studies?cursor=zzz", headers=alice).status_code == 422


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["queued", "queued"], "queued"),
        (["queued", "running"], "running"),
        (["queued", "succeeded"], "running"),
        (["succeeded", "succeeded"], "succeeded"),
        (["succeeded", "failed"], "partial"),
        (["succeeded", "cancelled"], "partial"),
        (["failed", "cancelled"], "failed"),
        (["cancelled", "cancelled"], "cancelled"),
    ],
)
def test_aggregated_status(statuses: list[str], expected: str) -> None:
    assert aggregate(statuses) == expected


def test_every_study_preset_expands_into_valid_cells(settings: Settings) -> None:
    studies = [p for p in presets() if p.kind == "study"]
    assert {p.name for p in studies} == {
        "vanishing-gradient-remedies",
        "post-ln-vs-pre-ln",
        "initialisation-schemes",
        "activation-functions",
        "rnn-lstm-gru-over-length",
    }
    for preset in studies:
        body = parse_study(json.loads(preset.model_dump_json(exclude_none=True)))
        cells = expand(body, settings.max_study_cells)
        specs = plan_cells(cells, settings.caps())
        assert len(specs) == len(cells) >= 2, preset.name
        assert all(s.train.steps <= 300 for s in specs), preset.name


def test_a_study_preset_posts_as_it_is(client: TestClient, alice: Headers) -> None:
    (preset,) = [p for p in presets() if p.name == "vanishing-gradient-remedies"]
    r = post(client, alice, json.loads(preset.model_dump_json(exclude_none=True)))
    assert r.status_code == 202, r.text
    cells = r.json()["cells"]
    assert [c["variant"] for c in cells][:3] == ["plain-deep-mlp", "batchnorm-mlp", "residual-mlp"]
    assert cells[1]["compare_with"] == "plain-deep-mlp"


def test_result_rows_need_the_document_only_once(
    client: TestClient, alice: Headers, finished_study: dict[str, Any], settings: Settings
) -> None:
    """A finished row is kept: deleting the stored document afterwards changes nothing."""
    url = f"/v1/studies/{finished_study['id']}"
    before = client.get(url, headers=alice).json()["table"]
    job_id = before[0]["job_id"]
    with session_scope(settings.store_url) as s:
        from service.store.models import ResultDoc

        row = s.get(ResultDoc, job_id)
        assert row is not None and gzip.decompress(row.document_gz)
        s.delete(row)
    assert client.get(url, headers=alice).json()["table"] == before


def _events(lines: list[str]) -> list[tuple[str, dict[str, Any]]]:
    kinds = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    return list(zip(kinds, data, strict=True))


def test_the_event_stream_follows_the_cells_to_the_end(
    app: Any,
    client: TestClient,
    alice: Headers,
    bob: Headers,
    finished_study: dict[str, Any],
    settings: Settings,
    result_document: bytes,
    store_result: Callable[[Settings, str, bytes], None],
) -> None:
    url = f"/v1/studies/{finished_study['id']}/events"
    assert client.get(url, headers=bob).status_code == 404
    second = finished_study["cells"][1]["job_id"]
    later = threading.Timer(0.5, store_result, (settings, second, result_document))
    later.start()
    with client.stream("GET", url, headers=alice) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events(list(r.iter_lines()))
    later.join()
    assert [(k, d.get("variant"), d["status"]) for k, d in events[:3]] == [
        ("cell", "rnn", "succeeded"),
        ("cell", "wide", "queued"),
        ("status", None, "running"),
    ]
    assert events[-1] == (
        "status",
        {"id": finished_study["id"], "status": "succeeded", "counts": {"succeeded": 2}},
    )
    assert ("cell", "wide", "succeeded") in [(k, d.get("variant"), d["status"]) for k, d in events]
    assert app.state.watcher.jobs == {}
