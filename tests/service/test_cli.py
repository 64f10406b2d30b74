"""`gradprobe-server run`: the engine from the command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gradprobe.result import Result

RUN = [sys.executable, "-m", "service.cli", "run"]


def test_run_writes_the_result_document_and_a_summary(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "name": "tiny",
                "model": {"type": "mlp", "depth": 4, "width": 8},
                "train": {"steps": 5, "device": "cpu"},
                "probe": {"every": 5},
            }
        )
    )
    out = tmp_path / "result.json"
    done = subprocess.run(
        [*RUN, str(spec), "-o", str(out)], capture_output=True, text=True, check=True
    )
    result = Result.model_validate_json(out.read_text())
    assert result.steps == [0, 5] and result.spec.name == "tiny"
    assert "verdict:" in done.stdout and result.summary.verdict in done.stdout
    assert "h1.linear" in done.stdout  # the gradient-flow table
    assert json.loads(out.read_text())["summary"]["verdict"] == result.summary.verdict


def test_bad_spec_exits_2_naming_the_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"model": {"type": "mlp", "depth": -1}}))
    done = subprocess.run([*RUN, str(spec)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "$.model.depth" in done.stderr and "Traceback" not in done.stderr


def test_unreadable_spec_files_get_a_clear_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"model": {"type": "mlp",}')
    done = subprocess.run([*RUN, str(broken)], capture_output=True, text=True)
    assert done.returncode != 0 and "not valid JSON (line 1" in done.stderr
    missing = subprocess.run([*RUN, str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert missing.returncode != 0 and "no such file" in missing.stderr
    assert "Traceback" not in done.stderr + missing.stderr
