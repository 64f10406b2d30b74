"""jobs: notify 'gradprobe_jobs' with the job's id when what the API shows of it changes

PostgreSQL only (SQLite has no notifications; nothing to do there). The API processes
listen and drop their kept views of the job (service/store/changes.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The same list as service/store/changes.py VIEW_COLUMNS at this revision (a migration does
# not import the code it may outlive; a test keeps the two equal).
VIEW_COLUMNS = (
    "name",
    "status",
    "queue",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "attempt",
    "cancel_requested",
    "step",
    "total_steps",
    "loss",
    "summary",
    "error",
    "tenant_id",
)

FUNCTION = """
CREATE OR REPLACE FUNCTION gradprobe_job_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('gradprobe_jobs', OLD.id);
    ELSE
        PERFORM pg_notify('gradprobe_jobs', NEW.id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(
        f"CREATE TRIGGER jobs_view_changed AFTER UPDATE OF {', '.join(VIEW_COLUMNS)} ON jobs"
        " FOR EACH ROW EXECUTE FUNCTION gradprobe_job_changed()"
    )
    op.execute(
        "CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs"
        " FOR EACH ROW EXECUTE FUNCTION gradprobe_job_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS jobs_deleted ON jobs")
    op.execute("DROP TRIGGER IF EXISTS jobs_view_changed ON jobs")
    op.execute("DROP FUNCTION IF EXISTS gradprobe_job_changed()")
