"""The hot read: one job's row, for `GET /v1/jobs/{id}` when it is not kept in memory.

Not through the ORM session of every other route: one `SELECT` on an autocommit connection
(no BEGIN and COMMIT around it) from a pool that does not ping each connection it hands
out. A connection that went stale (the database restarted) fails its first statement,
SQLAlchemy then drops every pooled connection, and the read is tried once more.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, Row, bindparam, create_engine, select
from sqlalchemy.exc import DBAPIError

from service.store.changes import VIEW_COLUMNS
from service.store.db import engine_for
from service.store.models import Job

JOBS = Job.__table__
# What the view shows, not the spec or the live norms (kilobytes each).
VIEW = select(JOBS.c.id, *(JOBS.c[name] for name in VIEW_COLUMNS))
BY_ID = VIEW.where(JOBS.c.id == bindparam("job_id"))
BY_IDS = VIEW.where(JOBS.c.id.in_(bindparam("job_ids", expanding=True)))


@lru_cache(maxsize=4)
def read_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return engine_for(url)  # one file, no server: the shared engine is as cheap
    return create_engine(
        url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=20, pool_recycle=1800
    )


def job_row(url: str, job_id: str) -> Row[Any] | None:
    """The job's columns (attribute access as on a `Job`), or None if there is no such job."""
    rows = _read(url, BY_ID, {"job_id": job_id})
    return rows[0] if rows else None


def job_rows(url: str, job_ids: list[str]) -> list[Row[Any]]:
    """The rows of those of `job_ids` that exist, in one query."""
    return _read(url, BY_IDS, {"job_ids": job_ids})


def _read(url: str, query: Any, params: dict[str, Any]) -> list[Row[Any]]:
    for attempt in (1, 2):
        try:
            with read_engine(url).connect() as conn:
                return list(conn.execute(query, params))
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("not reached")
