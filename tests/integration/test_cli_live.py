"""The `gradprobe` command against the live service (API under uvicorn, a Celery worker,
Redis, PostgreSQL): in process through typer's CliRunner, and once as `python -m
gradprobe.cli` with the configuration in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from gradprobe.cli import app
from tests.integration.harness import Service

TINY: dict[str, Any] = {
    "model": {"type": "mlp", "depth": 3, "width": 8},
    "train": {"steps": 20, "device": "cpu"},
    "probe": {"every": 5},
}


def gradprobe(service: Service, *args: str) -> Result:
    argv = [*args, "--url", service.url, "--api-key", service.key]
    return CliRunner().invoke(app, argv)


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def started(service: Service) -> Service:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    return service


def test_submit_wait_status_stats_plot_and_compare(service: Service, tmp_path: Path) -> None:
    started(service)
    spec = write(tmp_path / "tiny.json", TINY)
    done = gradprobe(service, "submit", spec, "--wait", "--name", "tiny", "--json")
    assert done.exit_code == 0, done.output
    first = json.loads(done.stdout)
    job_id = first["job"]["id"]
    assert first["job"]["status"] == "succeeded" and first["job"]["name"] == "tiny"
    assert first["result"]["summary"]["verdict"] == first["job"]["summary"]["verdict"]

    shown = gradprobe(service, "status", job_id)
    assert shown.exit_code == 0 and "succeeded" in shown.stdout and "step 20/20" in shown.stdout

    stats = gradprobe(service, "stats", job_id)
    assert stats.exit_code == 0, stats.output
    assert "h1.linear" in stats.stdout and "out.linear" in stats.stdout and "█" in stats.stdout

    picture = tmp_path / "flow.png"
    plotted = gradprobe(service, "plot", job_id, "grad_flow", "-o", str(picture))
    assert plotted.exit_code == 0, plotted.output
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    deeper = write(tmp_path / "deeper.json", {**TINY, "model": {**TINY["model"], "depth": 5}})
    second = gradprobe(service, "submit", deeper, "--wait", "--json")
    assert second.exit_code == 0, second.output
    other_id = json.loads(second.stdout)["job"]["id"]
    rows = json.loads(gradprobe(service, "compare", job_id, other_id, "--json").stdout)
    assert [r["job_id"] for r in rows] == [job_id, other_id]
    assert all(r["verdict"] and r["step_ms"] > 0 and r["decay_over"] == "layer" for r in rows)
    table = gradprobe(service, "compare", job_id, other_id)
    assert table.exit_code == 0 and "tiny" in table.stdout and other_id in table.stdout


def test_validate_names_the_bad_field_and_presets_list(service: Service, tmp_path: Path) -> None:
    service.start_api()  # no worker: nothing here runs a job
    bad = write(tmp_path / "bad.json", {"model": {"type": "mlp", "depth": 0}})
    done = gradprobe(service, "validate", bad)
    assert done.exit_code == 1 and "$.model.depth" in done.stderr
    assert "Traceback" not in done.output

    good = gradprobe(service, "validate", write(tmp_path / "tiny.json", TINY))
    assert good.exit_code == 0 and "h3.linear" in good.stdout and "parameters" in good.stdout

    # The console script's module, configured by the environment alone.
    env = {**os.environ, "GRADPROBE_URL": service.url, "GRADPROBE_API_KEY": service.key}
    listed = subprocess.run(
        [sys.executable, "-m", "gradprobe.cli", "presets", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    names = {p["name"]: p["kind"] for p in json.loads(listed.stdout)}
    assert names["vanishing-gradient-remedies"] == "study" and names["lstm"] == "spec"


def test_study_run_wait_prints_the_table_and_writes_the_plot(
    service: Service, tmp_path: Path
) -> None:
    started(service)
    study = {
        "name": "tiny-study",
        "base": TINY,
        "variants": [{"name": "d3"}, {"name": "d5", "overrides": {"model.depth": 5}}],
    }
    picture = tmp_path / "compare.png"
    done = gradprobe(
        service, "study", "run", write(tmp_path / "s.json", study), "--wait", "-o", str(picture)
    )
    assert done.exit_code == 0, done.output
    assert "d3" in done.stdout and "d5" in done.stdout and "per layer" in done.stdout
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
