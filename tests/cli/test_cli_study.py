"""`study run` (a preset by name, or a file) and `study show`."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import Cli, Server
from tests.client.factories import problem
from tests.client.factories import study_cell as cell
from tests.client.factories import study_row as row
from tests.client.factories import study_view as study

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 16
PRESET = {
    "kind": "study",
    "name": "remedies",
    "title": "Five remedies",
    "base": {"model": {"type": "mlp", "depth": 50}},
    "grid": None,
    "variants": [
        {"name": "plain", "remedy": "none", "compare_with": None, "overrides": None, "spec": None},
        {"name": "bn", "remedy": "batch norm", "overrides": {"model.norm": "batch"}},
    ],
    "a_field_a_newer_server_adds": 1,
}


QUEUED = study("queued", [cell("plain", "job_1", "queued"), cell("bn", "job_2", "queued")], [])
RUNNING = study(
    "running",
    [cell("plain", "job_1", "succeeded", 100), cell("bn", "job_2", "running", 40)],
    [row("plain", "job_1", "vanishing")],
)
DONE = study(
    "succeeded",
    [cell("plain", "job_1", "succeeded", 100), cell("bn", "job_2", "succeeded", 100)],
    [row("plain", "job_1", "vanishing"), row("bn", "job_2", "healthy")],
)


def presets(server: Server) -> None:
    server.on("GET", "/v1/presets", {"items": [PRESET]})


def test_run_a_preset_posts_what_a_study_takes(cli: Cli, server: Server) -> None:
    presets(server)
    server.on("POST", "/v1/studies", httpx.Response(202, json=QUEUED))
    done = cli("study", "run", "remedies", "--name", "mine")
    assert done.exit_code == 0, done.output
    body = server.body("POST", "/v1/studies")
    assert body == {
        "kind": "study",
        "name": "mine",
        "title": "Five remedies",
        "base": PRESET["base"],
        "variants": [{"name": "plain", "remedy": "none"}, PRESET["variants"][1]],  # type: ignore[index]
    }
    assert server.calls("POST", "/v1/studies")[0].headers["idempotency-key"]
    assert "st_1" in done.stdout and "job_2" in done.stdout


def test_run_wait_prints_the_table_and_writes_the_plot(cli: Cli, server: Server, tmp_path) -> None:
    presets(server)
    server.on("POST", "/v1/studies", httpx.Response(202, json=QUEUED))
    server.on("GET", "/v1/studies/st_1", RUNNING, DONE)
    server.on("GET", "/v1/studies/st_1/plots/compare.png", httpx.Response(200, content=PNG))
    out = tmp_path / "compare.png"
    done = cli("study", "run", "remedies", "--wait", "-o", str(out))
    assert done.exit_code == 0, done.output
    for text in ("plain", "vanishing", "bn", "healthy", "x0.6 per layer", "2.5"):
        assert text in done.stdout
    assert out.read_bytes() == PNG
    assert len(server.calls("GET", "/v1/studies/st_1")) == 2


def test_run_a_file_json_and_a_partial_study_exits_1(cli: Cli, server: Server, tmp_path) -> None:
    path = tmp_path / "study.json"
    path.write_text(json.dumps({"base": {}, "grid": {"model.depth": [2, 3]}}))
    partial = {**DONE, "status": "partial"}
    server.on("POST", "/v1/studies", httpx.Response(202, json=QUEUED))
    server.on("GET", "/v1/studies/st_1", partial)
    done = cli("study", "run", str(path), "--wait", "--json")
    assert done.exit_code == 1 and "study st_1 ended partial" in done.stderr
    assert server.body("POST", "/v1/studies") == {"base": {}, "grid": {"model.depth": [2, 3]}}
    assert json.loads(done.stdout)["table"][1]["verdict"] == "healthy"


def test_an_unknown_preset_lists_the_study_presets(cli: Cli, server: Server) -> None:
    presets(server)
    done = cli("study", "run", "nope")
    assert done.exit_code == 2
    assert "no study file or study preset named 'nope'; presets: remedies" in done.stderr
    assert not server.calls("POST", "/v1/studies")


def test_a_missing_study_file_is_named(cli: Cli, server: Server) -> None:
    done = cli("study", "run", "missing.json")
    assert done.exit_code == 2 and "cannot read study file missing.json" in done.stderr


def test_output_needs_wait(cli: Cli, server: Server) -> None:
    done = cli("study", "run", "remedies", "-o", "x.png")
    assert done.exit_code == 2 and "-o needs --wait" in done.stderr and server.requests == []


def test_a_bad_cell_exits_1_naming_it(cli: Cli, server: Server) -> None:
    presets(server)
    bad = [{"path": "$.variants[1].overrides.model.norm", "message": "no such norm", "type": "x"}]
    server.on(
        "POST", "/v1/studies", problem(422, "invalid-spec", "a cell is not valid", errors=bad)
    )
    done = cli("study", "run", "remedies")
    assert done.exit_code == 1 and "$.variants[1].overrides.model.norm" in done.stderr


def test_show_prints_cells_without_a_result_too(cli: Cli, server: Server) -> None:
    server.on("GET", "/v1/studies/st_1", RUNNING)
    done = cli("study", "show", "st_1")
    assert done.exit_code == 0, done.output
    assert "vanishing" in done.stdout and "running" in done.stdout and "job_2" in done.stdout


def test_cancel_a_study(cli: Cli, server: Server) -> None:
    server.on("POST", "/v1/studies/st_1/cancel", httpx.Response(202, json=RUNNING))
    assert cli("study", "cancel", "st_1").exit_code == 0
    server.on("POST", "/v1/studies/st_2/cancel", problem(409, "study-final", "every cell ended"))
    done = cli("study", "cancel", "st_2", "--json")
    assert done.exit_code == 1 and json.loads(done.stdout)["error"]["status"] == 409


def test_run_wait_follows_the_study_events(cli: Cli, server: Server, fake_time) -> None:
    presets(server)
    server.on("POST", "/v1/studies", httpx.Response(202, json=QUEUED))
    progress = {"step": 100, "total": 100, "loss": 1.0}
    stream = "".join(
        f"event: {kind}\ndata: {json.dumps(data)}\n\n"
        for kind, data in [
            (
                "cell",
                {
                    "variant": "plain",
                    "job_id": "job_1",
                    "status": "succeeded",
                    "progress": progress,
                },
            ),
            (
                "status",
                {"id": "st_1", "status": "running", "counts": {"succeeded": 1, "queued": 1}},
            ),
            (
                "cell",
                {"variant": "bn", "job_id": "job_2", "status": "succeeded", "progress": progress},
            ),
            ("status", {"id": "st_1", "status": "succeeded", "counts": {"succeeded": 2}}),
        ]
    )
    events = httpx.Response(
        200, content=stream.encode(), headers={"content-type": "text/event-stream"}
    )
    server.on("GET", "/v1/studies/st_1/events", events)
    server.on("GET", "/v1/studies/st_1", QUEUED, DONE)  # at the start; once the stream says so
    done = cli("study", "run", "remedies", "--wait")
    assert done.exit_code == 0, done.output
    assert "healthy" in done.stdout
    assert len(server.calls("GET", "/v1/studies/st_1/events")) == 1
    assert len(server.calls("GET", "/v1/studies/st_1")) == 2 and fake_time.sleeps == []
