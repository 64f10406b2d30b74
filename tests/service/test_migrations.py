"""Alembic: a store at 0001 upgrades to head with its jobs kept, and head matches the models."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from service.store.migrate import alembic_config


def test_0001_upgrades_to_head_keeping_the_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0001")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO tenants VALUES ('t1', 'alice', '2026-01-01 00:00:00')")
        conn.exec_driver_sql(
            "INSERT INTO jobs (id, tenant_id, status, queue, spec, created_at, updated_at,"
            " attempt, cancel_requested, step, total_steps) VALUES ('job_1', 't1', 'succeeded',"
            " 'cpu', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 0, 5, 5)"
        )
        conn.exec_driver_sql("INSERT INTO results VALUES ('job_1', x'00', 1, '2026-01-01')")

    command.upgrade(cfg, "head")
    command.check(cfg)  # the models and the migrations agree
    inspector = sa.inspect(engine)
    assert {"study_id", "variant"} <= {c["name"] for c in inspector.get_columns("jobs")}
    assert "studies" in inspector.get_table_names()
    assert any(fk["referred_table"] == "studies" for fk in inspector.get_foreign_keys("jobs"))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, study_id, variant FROM jobs").all()
        assert [tuple(r) for r in rows] == [("job_1", None, None)]
        assert conn.exec_driver_sql("SELECT count(*) FROM results").scalar() == 1

    command.downgrade(cfg, "0001")
    assert "studies" not in sa.inspect(engine).get_table_names()
    engine.dispose()
