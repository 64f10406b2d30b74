"""jobs: an index for counting a tenant's active jobs at every submit

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_tenant_status", "jobs", ["tenant_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_tenant_status", table_name="jobs")
