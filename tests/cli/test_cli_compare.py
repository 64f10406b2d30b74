"""`compare`: jobs side by side, from each job's summary and its (two-probe) statistics."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, Server
from tests.client.factories import job_view, result_doc, summary

ROW_KEYS = {
    "variant",
    "job_id",
    "status",
    "verdict",
    "grad_ratio_first_last",
    "decay",
    "decay_over",
    "decay_per_layer",
    "decay_per_timestep",
    "loss_drop",
    "final_accuracy",
    "step_ms",
}


def rnn_summary() -> dict:  # type: ignore[type-arg]
    return {**summary("healthy"), "decay_per_timestep": 0.9, "grad_ratio_first_last": 0.5}


def scripted(server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1", job_view("job_1", "succeeded", name="plain"))
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    lstm = job_view("job_2", "succeeded", name="lstm", summary=rnn_summary())
    server.on("GET", "/v1/jobs/job_2", lstm)
    server.on("GET", "/v1/jobs/job_2/stats", {**result_doc(), "accuracy": [0.1, None, 0.8]})
    server.on("GET", "/v1/jobs/job_3", job_view("job_3", "running", step=5))


def test_json_rows_have_the_study_table_columns(cli: Cli, server: Server) -> None:
    scripted(server)
    done = cli("compare", "job_1", "job_2", "job_3", "--json")
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    assert [set(r) for r in rows] == [ROW_KEYS] * 3
    plain, lstm, running = rows
    assert plain["verdict"] == "vanishing" and plain["decay"] == 0.6
    assert plain["decay_over"] == "layer" and plain["step_ms"] == 1.0
    assert lstm["decay"] == 0.9 and lstm["decay_over"] == "timestep"
    assert lstm["final_accuracy"] == 0.8 and lstm["variant"] == "lstm"
    assert running["status"] == "running" and running["verdict"] is None
    # Only the first and last probes are fetched, and nothing for a job without a result.
    assert server.calls("GET", "/v1/jobs/job_1/stats")[0].url.params["max_points"] == "2"
    assert not server.calls("GET", "/v1/jobs/job_3/stats")


def test_the_table(cli: Cli, server: Server) -> None:
    scripted(server)
    done = cli("compare", "job_1", "job_2", "job_3")
    assert done.exit_code == 0, done.output
    text = done.stdout
    for cell in ("plain", "vanishing", "x0.6 per layer", "lstm", "x0.9 per step", "0.8", "running"):
        assert cell in text


def test_an_unknown_job_exits_1(cli: Cli, server: Server) -> None:
    scripted(server)
    done = cli("compare", "job_1", "job_nope")
    assert done.exit_code == 1 and "HTTP 404" in done.stderr
