"""api_tokens: a third kind, `gateway`: a run's own expiring token for the gateway only

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "token_kind"  # the naming convention makes it ck_api_tokens_token_kind


def _allow(*kinds: str) -> None:
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_api_tokens_{CONSTRAINT}"), type_="check")
        batch_op.create_check_constraint(CONSTRAINT, sa.text(f"kind IN ({listed})"))


def upgrade() -> None:
    _allow("api", "session", "gateway")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_tokens WHERE kind = 'gateway'"))
    _allow("api", "session")
