"""task_runs: the run's options, its branch, the commit it made and the files it changed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", JSON, nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("branch", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("commit_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("changed_files", JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.drop_column("changed_files")
        batch_op.drop_column("commit_sha")
        batch_op.drop_column("branch")
        batch_op.drop_column("options")
