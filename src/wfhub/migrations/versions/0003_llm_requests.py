"""the LLM request ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("backend", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("load_ms", sa.Float(), nullable=True),
        sa.Column("prompt_ms", sa.Float(), nullable=True),
        sa.Column("eval_ms", sa.Float(), nullable=True),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("ttfb_ms", sa.Float(), nullable=True),
        sa.Column("request_bytes", sa.Integer(), nullable=False),
        sa.Column("response_bytes", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_requests")),
    )
    with op.batch_alter_table("llm_requests", schema=None) as batch_op:
        batch_op.create_index("ix_llm_requests_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_llm_requests_model_created_at", ["model", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_llm_requests_project_created_at", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_llm_requests_task_id", ["task_id"], unique=False)
        batch_op.create_index("ix_llm_requests_run_id", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("llm_requests")
