"""seed the five default workflow nodes (pm, dev, qa, security, documentation)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Seeded by a migration, not at start-up, so a node the user deletes or edits stays that way.
The data is written out here (not imported) so this revision never changes after release.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NODES = [
    {
        "name": "pm",
        "description": "Product manager: turns the task into a plan with acceptance criteria.",
        "agent_prompt": (
            "You are the product manager. Read the task, its comments and the workspace map. "
            "Restate the goal in one paragraph, list concrete acceptance criteria that can be "
            "checked by running code, and split work that is too large into subtasks. "
            "Do not write code."
        ),
        "routing_config": {"on_pass": "dev", "on_fail": None},
        "max_iterations": 5,
    },
    {
        "name": "dev",
        "description": "Developer: implements the task in the workspace.",
        "agent_prompt": (
            "You are a senior developer. Implement the task so that every acceptance criterion "
            "holds. Read the code before changing it, make the smallest complete change, add or "
            "update tests, and run them. Finish with a summary of what changed and why."
        ),
        "routing_config": {"on_pass": "qa", "on_fail": None},
        "max_iterations": 25,
    },
    {
        "name": "qa",
        "description": "QA: verifies the change against the acceptance criteria.",
        "agent_prompt": (
            "You are the QA engineer. Run the test suite and check each acceptance criterion "
            "against the code and its behaviour. Report pass only when every criterion holds; "
            "otherwise report fail with the exact failing criterion and how to reproduce it."
        ),
        "routing_config": {"on_pass": "security", "on_fail": "dev"},
        "max_iterations": 10,
    },
    {
        "name": "security",
        "description": "Security review: looks for vulnerabilities the change introduces.",
        "agent_prompt": (
            "You are the security reviewer. Review the diff for injection, path traversal, "
            "secrets in code or logs, unsafe deserialisation, missing authorisation and input "
            "validation. Report fail with the location and a fix for each real issue."
        ),
        "routing_config": {"on_pass": "documentation", "on_fail": "dev"},
        "max_iterations": 10,
    },
    {
        "name": "documentation",
        "description": "Technical writer: brings README and docs in line with the change.",
        "agent_prompt": (
            "You are the technical writer. Update the README and docs so they describe what the "
            "code now does: new settings, commands, endpoints and behaviour. Keep examples "
            "runnable. Do not change code."
        ),
        "routing_config": {"on_pass": None, "on_fail": None},
        "max_iterations": 10,
    },
]


def upgrade() -> None:
    table = sa.table(
        "task_nodes",
        sa.column("name", sa.String),
        sa.column("node_type", sa.String),
        sa.column("description", sa.Text),
        sa.column("agent_prompt", sa.Text),
        sa.column("command", sa.Text),
        sa.column("condition", sa.Text),
        sa.column("pre_hooks", sa.JSON),
        sa.column("post_hooks", sa.JSON),
        sa.column("routing_config", sa.JSON),
        sa.column("max_iterations", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                **node,
                "node_type": "agent",
                "command": "",
                "condition": "",
                "pre_hooks": [],
                "post_hooks": [],
                "created_at": now,
                "updated_at": now,
            }
            for node in NODES
        ],
    )


def downgrade() -> None:
    names = ", ".join(f"'{node['name']}'" for node in NODES)
    op.execute(f"DELETE FROM task_nodes WHERE name IN ({names})")  # noqa: S608
