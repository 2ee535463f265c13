"""daily LLM usage with latency histograms, and each ledger row's latency bucket

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wfhub.llm import latency, rollup
from wfhub.llm.latency import Tally
from wfhub.models.base import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_COLUMNS = ("project_id", "task_id", "run_id")
USAGE_COLUMNS = ("requests", "errors", "prompt_tokens", "completion_tokens")
BACKFILL_CHUNK = 10_000


def upgrade() -> None:
    usage = op.create_table(
        "llm_usage_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ID_COLUMNS),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in USAGE_COLUMNS),
        sa.Column("latency_histogram", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_usage_daily")),
        sa.UniqueConstraint(
            "day",
            "model",
            *ID_COLUMNS,
            name=op.f("uq_llm_usage_daily_day_model_project_id_task_id_run_id"),
        ),
    )
    with op.batch_alter_table("llm_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("latency_bucket", sa.Integer(), nullable=False, server_default="0")
        )
    _backfill(usage)
    with op.batch_alter_table("llm_requests", schema=None) as batch_op:
        batch_op.alter_column("latency_bucket", server_default=None)


def _backfill(usage: sa.Table) -> None:
    """Bucket the rows already in the ledger and sum them into daily usage."""
    requests = sa.table(
        "llm_requests",
        sa.column("created_at", UTCDateTime()),
        *(
            sa.column(name)
            for name in (
                "id",
                "model",
                "project_id",
                "task_id",
                "run_id",
                "outcome",
                "total_ms",
                "prompt_tokens",
                "completion_tokens",
                "latency_bucket",
            )
        ),
    )
    bind = op.get_bind()
    usage_rows: dict[rollup.Key, Tally] = {}
    last_id = 0
    while True:  # in chunks, so a large ledger never sits in memory at once
        chunk = bind.execute(
            sa.select(requests)
            .where(requests.c.id > last_id)
            .order_by(requests.c.id)
            .limit(BACKFILL_CHUNK)
        )
        rows = [dict(r._mapping) for r in chunk]
        if not rows:
            break
        last_id = rows[-1]["id"]
        for row in rows:
            row["latency_bucket"] = latency.bucket(row["total_ms"])
        bind.execute(
            requests.update()
            .where(requests.c.id == sa.bindparam("row_id"))
            .values(latency_bucket=sa.bindparam("bucket")),
            [{"row_id": r["id"], "bucket": r["latency_bucket"]} for r in rows],
        )
        for key, tally in rollup.tally_rows(rows).items():
            usage_rows.setdefault(key, Tally()).add(tally)
    if not usage_rows:
        return
    bind.execute(
        usage.insert(),
        [
            {
                "day": day,
                "model": model,
                "project_id": project_id,
                "task_id": task_id,
                "run_id": run_id,
                "requests": tally.requests,
                "errors": tally.errors,
                "prompt_tokens": tally.prompt_tokens,
                "completion_tokens": tally.completion_tokens,
                "latency_histogram": tally.histogram.to_json(),
                "version": 1,
            }
            for (day, model, project_id, task_id, run_id), tally in usage_rows.items()
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("llm_requests", schema=None) as batch_op:
        batch_op.drop_column("latency_bucket")
    op.drop_table("llm_usage_daily")
