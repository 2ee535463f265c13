"""projects.tasks_version: bumped by a trigger on every change to the project's tasks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

The task tree cache (`wfhub.tasks.tree_cache`) serves a cached page while this number is
unchanged. A trigger rather than application code bumps it, so no write path (a bulk subtree
move, a cascade delete, a future raw statement) can forget to, and every process sharing the
database sees the change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE projects SET tasks_version = tasks_version + 1"
EVENTS = ("insert", "update", "delete")

# SQLite has row triggers only. An update that moves a task to another project bumps both.
SQLITE_ROWS = {
    "insert": "NEW.project_id",
    "update": "OLD.project_id, NEW.project_id",
    "delete": "OLD.project_id",
}

# PostgreSQL: one bump per statement and project, however many rows a statement touches.
POSTGRES_FUNCTION = """
CREATE FUNCTION wfhub_bump_tasks_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE projects SET tasks_version = tasks_version + 1
        WHERE id IN (SELECT project_id FROM new_rows);
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE projects SET tasks_version = tasks_version + 1
        WHERE id IN (SELECT project_id FROM old_rows UNION SELECT project_id FROM new_rows);
    ELSE
        UPDATE projects SET tasks_version = tasks_version + 1
        WHERE id IN (SELECT project_id FROM old_rows);
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TABLES = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("tasks_version", sa.BigInteger(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "sqlite":
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER tasks_version_{event} AFTER {event.upper()} ON tasks "
                f"BEGIN {BUMP} WHERE id IN ({SQLITE_ROWS[event]}); END"
            )
        return
    op.execute(POSTGRES_FUNCTION)
    for event in EVENTS:
        op.execute(
            f"CREATE TRIGGER tasks_version_{event} AFTER {event.upper()} ON tasks "
            f"REFERENCING {POSTGRES_TABLES[event]} FOR EACH STATEMENT "
            "EXECUTE FUNCTION wfhub_bump_tasks_version()"
        )


def downgrade() -> None:
    for event in EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS tasks_version_{event}" + _on_tasks())
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION wfhub_bump_tasks_version()")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("tasks_version")


def _on_tasks() -> str:
    return "" if op.get_bind().dialect.name == "sqlite" else " ON tasks"
