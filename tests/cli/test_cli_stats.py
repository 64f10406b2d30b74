"""`stats`: the per-layer table, the filters it forwards, its --json document."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, Server
from tests.client.factories import result_doc


def with_trunk(doc: dict) -> dict:  # type: ignore[type-arg]
    for layer in doc["layers"]:
        layer["trunk"] = layer["op"] == "linear"
    return doc


def test_the_table_shows_the_trunk_at_the_first_and_last_probe(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1/stats", with_trunk(result_doc()))
    done = cli("stats", "job_1")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert any("‖∂L/∂W‖ @0" in line and "‖∂L/∂W‖ @20" in line for line in lines)
    h1 = next(line for line in lines if "h1.linear" in line)
    # weight grad 0.1 at the first probe, 0.1 + 2 at the last; act grad 1 and 3; a bar.
    assert "0.1" in h1 and "2.1" in h1 and "█" in h1
    assert "h1.act" not in done.stdout, "one row per unit of depth"
    assert "h1.act" in cli("stats", "job_1", "--all").stdout


def test_the_bar_grows_with_the_log_of_the_norm(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1/stats", with_trunk(result_doc()))
    rows = [line for line in cli("stats", "job_1").stdout.splitlines() if ".linear" in line]
    bars = [line.count("█") for line in rows]
    assert bars == sorted(bars) and bars[0] < bars[-1]


def test_layers_and_metrics_are_filtered_by_the_server(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1/stats", result_doc(layers=[0, 2]))
    done = cli("stats", "job_1", "--layers", "h1.linear, h2.linear", "--metrics", "act_grad_norm")
    assert done.exit_code == 0, done.output
    params = server.calls("GET", "/v1/jobs/job_1/stats")[0].url.params
    assert params["layers"] == "h1.linear,h2.linear" and params["metrics"] == "act_grad_norm"
    assert "‖∂L/∂h‖ @0" in done.stdout and "‖∂L/∂W‖" not in done.stdout


def test_json_is_the_result_document(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/jobs/job_1/stats", result_doc())
    doc = json.loads(cli("stats", "job_1", "--json").stdout)
    assert doc["steps"] == [0, 10, 20] and doc["summary"]["verdict"] == "vanishing"
    assert doc["layers"][0]["name"] == "h1.linear"


def test_a_result_without_probes_lists_the_layers(cli: Cli, server: Server) -> None:
    empty = {**result_doc(), "steps": [], "loss": [], "metrics": {"weight_grad_norm": []}}
    server.on("GET", "/v1/jobs/job_1/stats", empty)
    done = cli("stats", "job_1")
    assert done.exit_code == 0, done.output
    assert "h1.linear" in done.stdout and "@0" not in done.stdout
