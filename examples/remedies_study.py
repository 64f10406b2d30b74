"""The five remedies for vanishing gradients side by side, with the Python client. Start the
service (`make up`), export GRADPROBE_API_KEY, run this file. GRADPROBE_EXAMPLE_STEPS=N trains
each net N steps only: a quick look, not the study."""

import os
from pathlib import Path

from gradprobe import Client
from gradprobe.api import StudyCreate

client = Client()  # GRADPROBE_URL (default http://127.0.0.1:8000) and GRADPROBE_API_KEY
preset = next(p for p in client.presets.list().items if p.name == "vanishing-gradient-remedies")
body = preset.model_dump(mode="json", exclude_none=True, include=set(StudyCreate.model_fields))
for variant in body["variants"] if os.environ.get("GRADPROBE_EXAMPLE_STEPS") else []:
    variant["overrides"] = {"train.steps": int(os.environ["GRADPROBE_EXAMPLE_STEPS"])}


def show(view):  # called on each change: the study's status, a cell's status or step
    done = sum(1 for cell in view.cells if cell.status in ("succeeded", "failed", "cancelled"))
    print(f"\r{view.status}: {done}/{len(view.cells)} cells done", end="", flush=True)


study = client.studies.wait(client.studies.create(body).id, timeout=1800, progress=show)
print()
for row in study.table:
    print(f"{row.variant:24} {row.verdict:12} first/last {row.grad_ratio_first_last or 0:9.2e}")
    client.jobs.get(row.job_id).plot("grad_flow", path=f"{row.variant}-grad_flow.png")
Path("remedies.png").write_bytes(client.studies.plot(study.id))
print("wrote remedies.png and one grad_flow plot per variant")
