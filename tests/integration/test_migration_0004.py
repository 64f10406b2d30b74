"""Migration 0004 (jobs.layer_norms) up and down on SQLite and PostgreSQL, jobs kept."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from service.store.migrate import alembic_config

NORMS = '{"step": 5, "metrics": ["act_grad_norm"], "layers": {"h1.linear": [0.5]}}'


def columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("jobs")}


def test_0004_adds_and_drops_the_layer_norms_column_keeping_the_jobs(store_url: str) -> None:
    cfg = alembic_config(store_url)
    command.upgrade(cfg, "0003")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO tenants VALUES ('t1', 'alice', '2026-01-01 00:00:00')")
        conn.exec_driver_sql(
            "INSERT INTO jobs (id, tenant_id, status, queue, spec, created_at, updated_at,"
            " attempt, cancel_requested, step, total_steps) VALUES ('job_1', 't1', 'running',"
            " 'cpu', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, false, 5, 9)"
        )
    assert "layer_norms" not in columns(engine)

    command.upgrade(cfg, "0004")
    assert "layer_norms" in columns(engine)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT layer_norms FROM jobs").scalar() is None
        conn.exec_driver_sql(f"UPDATE jobs SET layer_norms = '{NORMS}'")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT layer_norms FROM jobs")).scalar()
        assert "h1.linear" in str(stored)

    command.downgrade(cfg, "0003")
    assert "layer_norms" not in columns(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, step, total_steps FROM jobs").all()
        assert [tuple(r) for r in rows] == [("job_1", 5, 9)]
    engine.dispose()
