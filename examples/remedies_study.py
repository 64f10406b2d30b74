"""The five remedies for vanishing gradients side by side, with the Python client.

Start the service first (`make up`), export GRADPROBE_API_KEY, then run this file.
"""

from pathlib import Path

from gradprobe import Client
from gradprobe.api import StudyCreate
from gradprobe.client.studies import Studies

client = Client()  # GRADPROBE_URL (default http://127.0.0.1:8000) and GRADPROBE_API_KEY
preset = next(p for p in client.presets.list().items if p.name == "vanishing-gradient-remedies")
body = preset.model_dump(mode="json", exclude_none=True, include=set(StudyCreate.model_fields))
studies = Studies(client)
study = studies.create(body)


def show(view):  # called at each look: cells done so far
    done = sum(1 for row in view.cells if row.status in ("succeeded", "failed", "cancelled"))
    print(f"\r{view.status}: {done}/{len(view.cells)} cells done", end="", flush=True)


study = studies.wait(study.id, timeout=1800, progress=show)
print()
for row in study.table:
    print(f"{row.variant:24} {row.verdict:12} first/last {row.grad_ratio_first_last or 0:9.2e}")
Path("remedies.png").write_bytes(studies.plot(study.id))
for row in study.table:
    client.jobs.get(row.job_id).plot("grad_flow", path=f"{row.variant}-grad_flow.png")
print("wrote remedies.png and one grad_flow plot per variant")
