"""A study through the real service: API, Celery worker, Redis and PostgreSQL (migrated to
head, so migration 0002 runs on PostgreSQL too)."""

from __future__ import annotations

from tests.integration.harness import Service, job_status, wait_for
from tests.integration.specs import family_spec, small_study


def test_a_small_study_runs_to_succeeded_with_its_table(service: Service) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    body = small_study({"name": "lstm", "spec": family_spec("rnn")})
    with service.client() as http:
        r = http.post("/v1/studies", json=body)
        assert r.status_code == 202, r.text
        url = r.headers["location"]
        assert url == f"/v1/studies/{r.json()['id']}"
        view = wait_for(
            lambda: (
                (v := http.get(url).json())["status"] in ("succeeded", "failed", "partial") and v
            ),
            240,
            "the study to end",
            every_s=0.5,
        )
        assert view["status"] == "succeeded", view
        assert view["counts"] == {"succeeded": 3}
        assert [row["variant"] for row in view["table"]] == ["bn", "plain", "lstm"]
        for cell, row in zip(view["cells"], view["table"], strict=True):
            job = job_status(http, cell["job_id"])
            assert row["job_id"] == job["id"] and job["status"] == "succeeded"
            assert row["verdict"] == job["summary"]["verdict"]
            assert row["grad_ratio_first_last"] == job["summary"]["grad_ratio_first_last"]
            assert row["step_ms"] and row["step_ms"] > 0
        assert view["table"][2]["decay_over"] == "timestep"
        assert view["table"][0]["decay_over"] == "layer"
        png = http.get(f"{url}/plots/compare.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        listed = http.get("/v1/studies").json()["items"]
        assert [s["id"] for s in listed] == [view["id"]] and listed[0]["status"] == "succeeded"
        other = service.create_key("other")
    with service.client(other) as http:
        assert http.get(url).status_code == 404
