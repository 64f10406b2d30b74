"""client.jobs, client.specs and client.presets against a scripted server."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from gradprobe.spec import JobSpec, MlpModel
from tests.client.conftest import Server
from tests.client.factories import job_view, problem, result_doc

SPEC = {"model": {"type": "mlp", "depth": 50, "activation": "sigmoid"}}


def created(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json=job_view(), headers={"Location": "/v1/jobs/job_1"})


def test_create_sends_one_idempotency_key_across_retries(client: Any, server: Server) -> None:
    server.on("POST", "/v1/jobs", httpx.Response(503), httpx.ReadTimeout("lost"), created)
    job = client.jobs.create(SPEC)
    assert job.id == "job_1" and job.status == "queued"
    keys = {r.headers["idempotency-key"] for r in server.requests}
    assert len(server.requests) == 3 and len(keys) == 1 and keys.pop().startswith("gp-")
    assert all(r.content == server.requests[0].content for r in server.requests)

    client.jobs.create(SPEC)  # another create: another key
    assert server.requests[-1].headers["idempotency-key"] not in keys


def test_create_uses_the_callers_key_and_accepts_a_typed_spec(client: Any, server: Server) -> None:
    server.on("POST", "/v1/jobs", created)
    client.jobs.create(JobSpec(model=MlpModel(depth=7)), idempotency_key="mine-1")
    sent = server.requests[0]
    assert sent.headers["idempotency-key"] == "mine-1"
    body = httpx.Response(200, content=sent.content).json()
    assert body["model"]["type"] == "mlp" and body["model"]["depth"] == 7
    assert JobSpec.model_validate(body).model == MlpModel(depth=7)


def test_list_pages_through_the_cursor(client: Any, server: Server) -> None:
    pages = {
        None: {"items": [job_view("j1"), job_view("j2")], "next_cursor": "c2"},
        "c2": {"items": [job_view("j3"), job_view("j4")], "next_cursor": "c3"},
        "c3": {"items": [job_view("j5")], "next_cursor": None},
    }

    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    server.on("GET", "/v1/jobs", page)
    assert [j.id for j in client.jobs.list(status="succeeded", page_size=2)] == [
        "j1", "j2", "j3", "j4", "j5"
    ]  # fmt: skip
    queries = [parse_qs(r.url.query.decode()) for r in server.requests]
    assert [q.get("cursor") for q in queries] == [None, ["c2"], ["c3"]]
    assert all(q["status"] == ["succeeded"] and q["limit"] == ["2"] for q in queries)

    server.requests.clear()
    assert [j.id for j in client.jobs.list(limit=3, page_size=2)] == ["j1", "j2", "j3"]
    assert [r.url.params["limit"] for r in server.requests] == ["2", "1"]


def test_list_is_lazy(client: Any, server: Server) -> None:
    server.on("GET", "/v1/jobs", {"items": [job_view("j1")], "next_cursor": "more"})
    first = next(iter(client.jobs.list()))
    assert first.id == "j1" and len(server.requests) == 1


def test_get_cancel_delete(client: Any, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1", job_view(status="running", step=5))
    server.on(
        "POST",
        "/v1/jobs/job_1/cancel",
        lambda r: httpx.Response(202, json=job_view(status="running", cancel_requested=True)),
    )
    server.on("DELETE", "/v1/jobs/job_1", httpx.Response(204))
    job = client.jobs.get("job_1")
    assert job.progress.step == 5 and not job.done
    assert job.cancel() is not None and job.view.cancel_requested
    assert job.delete() is None
    assert [r.method for r in server.requests] == ["GET", "POST", "DELETE"]


def test_job_ids_are_escaped_in_paths(client: Any, server: Server) -> None:
    server.on("GET", "/v1/jobs/a/b", job_view("a/b"))  # the server sees the decoded path
    assert client.jobs.get("a/b").id == "a/b"
    assert server.requests[0].url.raw_path == b"/v1/jobs/a%2Fb"


def test_stats_filters_and_accessors(client: Any, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1", job_view(status="succeeded"))
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    job = client.jobs.get("job_1")
    assert job.summary.verdict == "vanishing"
    stats = job.stats(layers=["h1.linear", "h2.linear"], metrics="weight_grad_norm", max_points=5)
    params = server.requests[-1].url.params
    assert params["layers"] == "h1.linear,h2.linear" and params["metrics"] == "weight_grad_norm"
    assert params["max_points"] == "5"
    assert stats.steps == [0, 10, 20]
    assert stats.layer("h2.linear").weight_grad_norm == pytest.approx([0.3, 1.3, 2.3])
    assert client.jobs.stats("job_1").metrics["act_grad_norm"][0][0] == 1.0


def test_stats_without_a_result_is_a_conflict(client: Any, server: Server) -> None:
    from gradprobe.client import Conflict

    server.on("GET", "/v1/jobs/job_1/stats", problem(409, "no-result", "job is running"))
    with pytest.raises(Conflict):
        client.jobs.stats("job_1")


def test_validate_and_presets(client: Any, server: Server) -> None:
    plan = {
        "valid": True,
        "spec": SPEC,
        "layers": [
            {"name": "h1.linear", "op": "linear", "inputs": ["input"], "shape": [16],
             "params": 1040, "flops": 2048}
        ],
        "output": "out.linear",
        "params": 1040,
        "flops": 2048,
        "activation_bytes": 1,
    }  # fmt: skip
    presets = {
        "items": [
            {"kind": "spec", "name": "plain", "title": "Plain", "spec": SPEC},
            {"kind": "study", "name": "five-remedies", "title": "Five", "base": SPEC,
             "variants": [{"name": "plain", "remedy": "none", "spec": SPEC}]},
        ]
    }  # fmt: skip
    server.on("POST", "/v1/specs/validate", plan)
    server.on("GET", "/v1/presets", presets)
    assert client.specs.validate(SPEC).layers[0].name == "h1.linear"
    listed = client.presets.list()
    assert [(p.kind, p.name) for p in listed.items] == [
        ("spec", "plain"), ("study", "five-remedies")
    ]  # fmt: skip
    validate = server.calls("POST", "/v1/specs/validate")[0]
    assert "idempotency-key" not in validate.headers


def test_plot_fetches_the_picture_and_writes_it(client: Any, server: Server, tmp_path: Any) -> None:
    server.on("GET", "/v1/jobs/job_1", job_view(status="succeeded"))
    png = httpx.Response(200, content=b"\x89PNG...", headers={"content-type": "image/png"})
    svg = httpx.Response(200, content=b"<svg/>", headers={"content-type": "image/svg+xml"})
    server.on("GET", "/v1/jobs/job_1/plots/grad_flow.png", png)
    server.on("GET", "/v1/jobs/job_1/plots/loss.svg", svg)
    job = client.jobs.get("job_1")
    assert job.plot("grad_flow") == b"\x89PNG..."
    assert job.plot("loss", path=str(tmp_path / "loss.svg")) == b"<svg/>"  # format from suffix
    assert (tmp_path / "loss.svg").read_bytes() == b"<svg/>"
