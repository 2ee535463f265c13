"""Alembic environment. wfhub always hands in a connection (see `wfhub.migrations`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from wfhub.migrations import ours
from wfhub.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `wfhub db upgrade`, which provides a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
    include_object=ours,
)
with context.begin_transaction():
    context.run_migrations()
