"""A stored study as the API shows it: cells, aggregated status and the comparison table.

The table's accuracy and step time come from the result documents. A stored result never
changes, so each job's row is read (decompressed, parsed) once per process and kept.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from gradprobe.api import StudyBrief, StudyCell, StudyLinks, StudyRow, StudyStatus, StudyView
from service.store.jobs import ACTIVE, result_gz
from service.store.models import Job, Study

ROWS_KEPT = 4096


def study_path(study_id: str) -> str:
    return f"/v1/studies/{study_id}"


def aggregate(statuses: Iterable[str]) -> StudyStatus:
    """The study's status from its cells' (see gradprobe.api.STUDY_STATUS_DOC)."""
    seen = Counter(statuses)
    if not seen or set(seen) == {"cancelled"}:
        return "cancelled"  # every cell cancelled (or deleted)
    if set(seen) == {"queued"}:
        return "queued"
    if any(s in ACTIVE for s in seen):
        return "running"
    if set(seen) == {"succeeded"}:
        return "succeeded"
    if "succeeded" in seen:
        return "partial"
    return "failed"


class Rows:
    """Table rows by job id, least recently used dropped first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[str, StudyRow] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str) -> StudyRow | None:
        with self._lock:
            row = self._rows.get(job_id)
            if row is not None:
                self._rows.move_to_end(job_id)
            return row

    def put(self, row: StudyRow) -> None:
        with self._lock:
            self._rows[row.job_id] = row
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)


rows = Rows(ROWS_KEPT)


def _document_facts(packed: bytes | None) -> tuple[float | None, float | None]:
    """(accuracy at the last probe that has one, step time in ms) of a result document."""
    if packed is None:
        return None, None
    doc: dict[str, Any] = json.loads(gzip.decompress(packed))
    accuracy = [a for a in doc.get("accuracy") or [] if a is not None]
    step_ms = (doc.get("timing") or {}).get("step_ms")
    return (accuracy[-1] if accuracy else None), step_ms


def table_row(session: Session, job: Job) -> StudyRow | None:
    """The comparison row of a cell with a result (None before it has one)."""
    if job.summary is None:
        return None
    row = rows.get(job.id)
    if row is not None:
        return row
    s = job.summary
    by_time = s.get("decay_per_timestep") is not None
    accuracy, step_ms = _document_facts(result_gz(session, job.id))
    row = StudyRow(
        variant=job.variant or job.id,
        job_id=job.id,
        verdict=s["verdict"],
        grad_ratio_first_last=s.get("grad_ratio_first_last"),
        decay=s.get("decay_per_timestep") if by_time else s.get("decay_per_layer"),
        decay_over="timestep" if by_time else "layer",
        decay_per_layer=s.get("decay_per_layer"),
        decay_per_timestep=s.get("decay_per_timestep"),
        loss_drop=s.get("loss_drop"),
        final_accuracy=accuracy,
        step_ms=step_ms,
    )
    if job.status not in ACTIVE:  # final: the result will not change
        rows.put(row)
    return row


def _links(study_id: str) -> StudyLinks:
    path = study_path(study_id)
    return StudyLinks(self=path, cancel=f"{path}/cancel", compare=f"{path}/plots/compare.png")


def ordered_jobs(study: Study, jobs: list[Job]) -> list[tuple[dict[str, Any], Job]]:
    """(cell, its job) in cell order; the cells whose job was deleted are left out."""
    by_id = {job.id: job for job in jobs}
    return [(cell, by_id[cell["job_id"]]) for cell in study.cells if cell["job_id"] in by_id]


def _cell(cell: dict[str, Any], job: Job) -> StudyCell:
    return StudyCell.model_validate(
        {
            "variant": cell["name"],
            "job_id": job.id,
            "status": job.status,
            "progress": {"step": job.step, "total": job.total_steps, "loss": job.loss},
            "overrides": cell.get("overrides") or {},
            "remedy": cell.get("remedy"),
            "compare_with": cell.get("compare_with"),
        }
    )


def study_brief(study: Study, jobs: list[Job]) -> StudyBrief:
    return StudyBrief(
        id=study.id,
        name=study.name,
        status=aggregate(job.status for job in jobs),
        created_at=study.created_at,
        counts=dict(Counter(job.status for job in jobs)),
        links=_links(study.id),
    )


def study_view(session: Session, study: Study, jobs: list[Job]) -> StudyView:
    pairs = ordered_jobs(study, jobs)
    table = [row for _, job in pairs if (row := table_row(session, job)) is not None]
    brief = study_brief(study, [job for _, job in pairs])
    return StudyView(
        **brief.model_dump(),
        cells=[_cell(cell, job) for cell, job in pairs],
        table=table,
    )
