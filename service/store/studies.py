"""Studies in the store: a study row and its cells' jobs, added in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from service.store.models import Job, Study


def new_study_id() -> str:
    return f"study_{uuid.uuid4().hex}"


def add_study(
    session: Session,
    tenant_id: str,
    base: dict[str, Any],
    cells: list[dict[str, Any]],
    name: str | None = None,
) -> Study:
    """A study row; its cells' jobs are added by the caller with `study_id` = its id."""
    study = Study(id=new_study_id(), tenant_id=tenant_id, name=name, base=base, cells=cells)
    session.add(study)
    session.flush()
    return study


def get_study(session: Session, study_id: str, tenant_id: str | None = None) -> Study | None:
    study = session.get(Study, study_id)
    if study is None or (tenant_id is not None and study.tenant_id != tenant_id):
        return None
    return study


def study_jobs(session: Session, study_ids: Sequence[str]) -> dict[str, list[Job]]:
    """The jobs of each study (a deleted job is simply missing), by study id."""
    out: dict[str, list[Job]] = {sid: [] for sid in study_ids}
    if study_ids:
        for job in session.scalars(select(Job).where(Job.study_id.in_(study_ids))):
            out[str(job.study_id)].append(job)
    return out


def page_studies(
    session: Session, tenant_id: str, limit: int, after: tuple[datetime, str] | None = None
) -> list[Study]:
    """Up to `limit` + 1 of the tenant's studies after the cursor, newest first (the extra
    one says whether there is a next page)."""
    q = select(Study).where(Study.tenant_id == tenant_id)
    if after is not None:
        at, last = after
        q = q.where(or_(Study.created_at < at, and_(Study.created_at == at, Study.id < last)))
    q = q.order_by(Study.created_at.desc(), Study.id.desc()).limit(limit + 1)
    return list(session.scalars(q))
