"""studies: a table of studies, and each job's study and variant

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:51:35.035514
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FK = "fk_jobs_study_id_studies"


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("base", sa.JSON(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("created_at", service.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_studies_tenant_created", "studies", ["tenant_id", "created_at", "id"])
    # Plain ADD COLUMNs: a batch rebuild of `jobs` on SQLite would copy every job. SQLite
    # cannot add a constraint to a table, but it takes the foreign key inline in the column.
    if op.get_context().dialect.name == "sqlite":
        op.execute("ALTER TABLE jobs ADD COLUMN study_id VARCHAR(40) REFERENCES studies (id)")
    else:
        study = sa.Column("study_id", sa.String(40), sa.ForeignKey("studies.id", name=FK))
        op.add_column("jobs", study)
    op.add_column("jobs", sa.Column("variant", sa.String(length=200), nullable=True))
    op.create_index("ix_jobs_study_id", "jobs", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_study_id", table_name="jobs")
    with op.batch_alter_table("jobs") as batch_op:
        if op.get_context().dialect.name != "sqlite":
            batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.drop_column("variant")
        batch_op.drop_column("study_id")
    op.drop_index("ix_studies_tenant_created", table_name="studies")
    op.drop_table("studies")
