"""tenants: a count of each tenant's active (queued or running) jobs, kept by triggers

A submit locks its tenant's row and reads this count, instead of counting the jobs: under
load a tenant can have thousands of active jobs, and counting them at every submit (an
index scan that visits each job's row) was most of PostgreSQL's work for a POST.

The triggers keep the count whoever writes the jobs (the API, a worker, the sweeper, an
operator's SQL): +1 for an active job inserted, ±1 for a status that enters or leaves
queued/running, -1 for an active job deleted. They fire only on those changes (a progress
update, or queued -> running, touches no tenant). Each takes the tenant's row lock, after
the job's own: a transaction that changes several jobs' status locks them all first
(service/api/studies.py cancel_study).

SQLite: its triggers live on the table, so a later `batch_alter_table("jobs")` (which
rebuilds the table) would drop them and must create them again.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ACTIVE = "('queued', 'running')"
BACKFILL = f"""
UPDATE tenants SET active_jobs = (
    SELECT count(*) FROM jobs WHERE jobs.tenant_id = tenants.id AND jobs.status IN {ACTIVE}
)
"""

# How a job changes its tenant's count: the +1 or -1 for the row named, when the condition holds.
MOVED = f"+ CASE WHEN NEW.status IN {ACTIVE} THEN 1 ELSE -1 END"
TRIGGERS = {  # name: (event, condition, change, row)
    "jobs_active_inserted": ("INSERT", f"NEW.status IN {ACTIVE}", "+ 1", "NEW"),
    "jobs_active_changed": (
        "UPDATE OF status",
        f"(OLD.status IN {ACTIVE}) <> (NEW.status IN {ACTIVE})",
        MOVED,
        "NEW",
    ),
    "jobs_active_deleted": ("DELETE", f"OLD.status IN {ACTIVE}", "- 1", "OLD"),
}

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION gradprobe_count_active() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE tenants SET active_jobs = active_jobs - 1 WHERE id = OLD.tenant_id;
    ELSE
        UPDATE tenants SET active_jobs = active_jobs {MOVED} WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("active_jobs", sa.Integer(), nullable=False, server_default="0")
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(PG_FUNCTION)
    for name, (event, when, change, row) in TRIGGERS.items():
        if postgres:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON jobs FOR EACH ROW WHEN ({when})"
                " EXECUTE FUNCTION gradprobe_count_active()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON jobs FOR EACH ROW WHEN {when} BEGIN"
                f" UPDATE tenants SET active_jobs = active_jobs {change}"
                f" WHERE id = {row}.tenant_id; END"
            )
    # After the triggers: on PostgreSQL, in one transaction with them, so no job is missed.
    op.execute(BACKFILL)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON jobs" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS gradprobe_count_active()")
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("active_jobs")
