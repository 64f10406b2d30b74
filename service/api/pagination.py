"""Keyset pagination of a tenant's jobs (and studies), newest first.

The cursor is the (created_at, id) of the last job of a page, opaque to clients. A page
is the jobs strictly after it in (created_at desc, id desc) order, so jobs inserted while a
client pages through (all newer than the cursor) neither repeat nor shift later pages."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from service.store.models import Job


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> str: ...


def encode_cursor(row: Keyed) -> str:
    """The cursor after `row` (a job or a study: anything paged by (created_at, id))."""
    raw = json.dumps([row.created_at.isoformat(), row.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for anything this server did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, job_id = json.loads(raw)
        when = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
        raise ValueError("not a cursor this server made") from None
    if when.tzinfo is None or not isinstance(job_id, str):
        raise ValueError("not a cursor this server made")
    return when, job_id


def page(
    session: Session,
    tenant_id: str,
    limit: int,
    status: str | None = None,
    after: tuple[datetime, str] | None = None,
) -> tuple[list[Job], str | None]:
    """Up to `limit` jobs after the cursor position, and the cursor of the next page."""
    q = select(Job).where(Job.tenant_id == tenant_id)
    if status is not None:
        q = q.where(Job.status == status)
    if after is not None:
        at, job_id = after
        q = q.where(or_(Job.created_at < at, and_(Job.created_at == at, Job.id < job_id)))
    q = q.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    jobs = list(session.scalars(q))
    more = len(jobs) > limit
    jobs = jobs[:limit]
    return jobs, encode_cursor(jobs[-1]) if more else None
