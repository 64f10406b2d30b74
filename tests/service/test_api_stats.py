"""GET /v1/jobs/{id}/stats: the stored bytes as stored, and the filters, checked against the
stored document."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from service.settings import Settings
from service.store.db import session_scope
from service.store.jobs import result_gz

Headers = dict[str, str]


@dataclass
class Raw:
    status_code: int
    headers: httpx.Headers
    content: bytes


def raw_get(
    client: TestClient, url: str, headers: Headers, params: dict[str, Any] | None = None
) -> Raw:
    """The response with its body exactly as sent (httpx would decompress it)."""
    with client.stream("GET", url, headers=headers, params=params) as r:
        return Raw(r.status_code, r.headers, b"".join(r.iter_raw()))


def stats(client: TestClient, job_id: str, headers: Headers, **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/jobs/{job_id}/stats", headers=headers, params=params)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def test_no_result_yet_is_409(
    client: TestClient, alice: Headers, submit: Callable[..., dict[str, Any]]
) -> None:
    job_id = submit()["id"]
    r = client.get(f"/v1/jobs/{job_id}/stats", headers=alice)
    assert r.status_code == 409 and r.json()["type"] == "urn:gradprobe:problem:no-result"
    assert "queued" in r.json()["detail"]


def test_unfiltered_stats_are_the_stored_gzip_bytes(
    client: TestClient, alice: Headers, finished_job: str, settings: Settings
) -> None:
    with session_scope(settings.store_url) as session:
        stored = result_gz(session, finished_job)
    assert stored is not None
    url = f"/v1/jobs/{finished_job}/stats"
    r = raw_get(client, url, {**alice, "Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"] == "application/json"
    assert r.content == stored  # byte for byte: not parsed and re-serialised
    plain = raw_get(client, url, {**alice, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == gzip.decompress(stored)
    refused = raw_get(client, url, {**alice, "Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers


def test_the_document_is_the_workers(
    client: TestClient, alice: Headers, finished_job: str, result_document: bytes
) -> None:
    assert stats(client, finished_job, alice) == json.loads(result_document)


def test_filter_layers_and_metrics(
    client: TestClient, alice: Headers, finished_job: str, result_document: bytes
) -> None:
    full = json.loads(result_document)
    names = [la["name"] for la in full["layers"]]
    assert len(names) >= 2 and full["timesteps"] and full["histograms"]
    last = names[-1]
    doc = stats(client, finished_job, alice, layers=last, metrics="weight_grad_norm,act_std")
    assert [la["name"] for la in doc["layers"]] == [last]
    assert set(doc["metrics"]) == {"weight_grad_norm", "act_std"}
    for metric in ("weight_grad_norm", "act_std"):
        assert doc["metrics"][metric] == [[row[-1]] for row in full["metrics"][metric]]
    assert doc["histograms"]["counts"] == [[row[-1]] for row in full["histograms"]["counts"]]
    assert doc["timesteps"] is None  # the recurrent layer was filtered out
    assert doc["steps"] == full["steps"] and doc["loss"] == full["loss"]
    rnn = full["timesteps"]["layer"]
    assert stats(client, finished_job, alice, layers=rnn)["timesteps"] == full["timesteps"]


def test_unknown_names_are_422_naming_the_query_parameter(
    client: TestClient, alice: Headers, finished_job: str
) -> None:
    url = f"/v1/jobs/{finished_job}/stats"
    for params, path in (
        ({"layers": "nope"}, "query.layers"),
        ({"metrics": "act_std,nope"}, "query.metrics"),
        ({"max_points": 1}, "query.max_points"),
        ({"max_points": "many"}, "query.max_points"),
    ):
        r = client.get(url, params=params, headers=alice)
        assert r.status_code == 422, params
        assert [e["path"] for e in r.json()["errors"]] == [path]


def test_max_points_thins_every_step_axis_alike(
    client: TestClient, alice: Headers, finished_job: str, result_document: bytes
) -> None:
    full = json.loads(result_document)
    steps = full["steps"]
    assert len(steps) == 13
    doc = stats(client, finished_job, alice, max_points=4)
    assert doc["steps"] == [0, 4, 8, 12]  # evenly spaced, first and last kept
    rows = [steps.index(s) for s in doc["steps"]]
    for name, grid in full["metrics"].items():
        assert doc["metrics"][name] == [grid[i] for i in rows]
    assert doc["loss"] == [full["loss"][i] for i in rows]
    assert doc["accuracy"] == [full["accuracy"][i] for i in rows]
    assert doc["timesteps"]["steps"] == doc["steps"]
    assert doc["timesteps"]["grad_norm"] == [full["timesteps"]["grad_norm"][i] for i in rows]
    assert doc["histograms"]["steps"] == doc["steps"]
    assert doc["histograms"]["zeros"] == [full["histograms"]["zeros"][i] for i in rows]
    assert doc["summary"] == full["summary"] and doc["layers"] == full["layers"]
    assert stats(client, finished_job, alice, max_points=2)["steps"] == [0, 12]
    assert stats(client, finished_job, alice, max_points=500)["steps"] == steps


def test_filtered_stats_are_gzipped_when_accepted(
    client: TestClient, alice: Headers, finished_job: str
) -> None:
    url = f"/v1/jobs/{finished_job}/stats"
    zipped = raw_get(client, url, {**alice, "Accept-Encoding": "gzip"}, {"max_points": 3})
    assert zipped.headers["content-encoding"] == "gzip"
    doc = json.loads(gzip.decompress(zipped.content))
    plain = raw_get(client, url, {**alice, "Accept-Encoding": "identity"}, {"max_points": 3})
    assert "content-encoding" not in plain.headers and json.loads(plain.content) == doc
    assert len(doc["steps"]) == 3
