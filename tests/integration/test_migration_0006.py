"""Migration 0006 (tenants.active_jobs and its triggers) up and down on SQLite and
PostgreSQL: the count starts as the jobs already stored, then follows them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from service.store.migrate import alembic_config

JOB = (
    "INSERT INTO jobs (id, tenant_id, status, queue, spec, created_at, updated_at, attempt,"
    " cancel_requested, step, total_steps) VALUES ('{id}', '{tenant}', '{status}', 'cpu', '{{}}',"
    " '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0, false, 0, 9)"
)


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, active_jobs FROM tenants"))
        return {tenant: n for tenant, n in rows}


def test_0006_counts_the_stored_jobs_then_follows_them(store_url: str) -> None:
    cfg = alembic_config(store_url)
    command.upgrade(cfg, "0005")
    engine = sa.create_engine(store_url)
    stored = {"j1": "queued", "j2": "running", "j3": "succeeded", "j4": "cancelled"}
    with engine.begin() as conn:
        for tenant in ("t1", "t2"):
            conn.exec_driver_sql(f"INSERT INTO tenants VALUES ('{tenant}', 'a', '2026-01-01')")
        for job_id, status in stored.items():
            conn.exec_driver_sql(JOB.format(id=job_id, tenant="t1", status=status))

    command.upgrade(cfg, "0006")
    assert counts(engine) == {"t1": 2, "t2": 0}
    with engine.begin() as conn:
        conn.exec_driver_sql(JOB.format(id="j5", tenant="t2", status="queued"))
        conn.exec_driver_sql("UPDATE jobs SET status = 'running' WHERE id = 'j1'")
        conn.exec_driver_sql("UPDATE jobs SET status = 'failed' WHERE id = 'j2'")
        conn.exec_driver_sql("UPDATE jobs SET step = 3")  # not the status: no change
        conn.exec_driver_sql("UPDATE jobs SET status = 'queued' WHERE id = 'j3'")
        conn.exec_driver_sql("DELETE FROM jobs WHERE id IN ('j4', 'j5')")
    assert counts(engine) == {"t1": 2, "t2": 0}

    command.downgrade(cfg, "0005")
    assert "active_jobs" not in {c["name"] for c in sa.inspect(engine).get_columns("tenants")}
    with engine.begin() as conn:  # no trigger left behind
        conn.exec_driver_sql(JOB.format(id="j6", tenant="t2", status="queued"))
        assert conn.exec_driver_sql("SELECT count(*) FROM jobs").scalar() == 4
    engine.dispose()
