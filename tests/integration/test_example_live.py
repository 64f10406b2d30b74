"""examples/remedies_study.py as a user runs it: `python remedies_study.py` in a directory of
its own, configured by the environment alone, against the live service (API under uvicorn, a
Celery worker, Redis, PostgreSQL). GRADPROBE_EXAMPLE_STEPS trains each net a few steps only,
so that the whole study takes seconds rather than the ten CPU minutes of the real one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

from gradprobe.result import Verdict
from tests.integration.harness import Service

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "remedies_study.py"
# The preset's cells: each remedy beside the net it fixes.
VARIANTS = [
    "plain-deep-mlp",
    "batchnorm-mlp",
    "residual-mlp",
    "unet-no-skips",
    "unet-skips",
    "rnn-tanh",
    "lstm",
]
STEPS = 4
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_example_is_under_30_lines() -> None:
    assert len(EXAMPLE.read_text().splitlines()) < 30


def test_the_example_runs_the_study_prints_the_table_and_saves_the_plots(
    service: Service, tmp_path: Path
) -> None:
    service.start_api()
    service.wait_worker_ready(service.start_worker())
    env = {
        **os.environ,
        "GRADPROBE_URL": service.url,
        "GRADPROBE_API_KEY": service.key,
        "GRADPROBE_EXAMPLE_STEPS": str(STEPS),
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,  # bytes: text mode would turn each "\r" into a new line
        timeout=600,
    )
    assert done.returncode == 0, done.stderr.decode()

    # The progress line, rewritten in place at each change, ends with every cell done.
    progress, *table, last = done.stdout.decode().split("\n")[:-1]
    assert progress.count("\r") >= 3, progress  # several changes were shown
    assert progress.split("\r")[-1] == f"succeeded: {len(VARIANTS)}/{len(VARIANTS)} cells done"
    assert last == "wrote remedies.png and one grad_flow plot per variant"
    rows = [line.split() for line in table]
    assert [row[0] for row in rows] == VARIANTS
    assert all(row[1] in get_args(Verdict) and row[2] == "first/last" for row in rows), table
    for row in rows:
        float(row[3])  # the ratio, as a number

    for name in ["remedies.png"] + [f"{v}-grad_flow.png" for v in VARIANTS]:
        picture = (tmp_path / name).read_bytes()
        assert picture.startswith(PNG) and len(picture) > 1000, name

    # The study the example made: its cells trained the few steps asked for.
    with service.client() as http:
        (brief,) = http.get("/v1/studies").json()["items"]
        study = http.get(f"/v1/studies/{brief['id']}").json()
    assert [c["variant"] for c in study["cells"]] == VARIANTS
    assert {c["progress"]["total"] for c in study["cells"]} == {STEPS}
