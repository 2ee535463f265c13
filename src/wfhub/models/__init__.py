"""ORM models, one module per aggregate. Importing this package registers every table."""

from wfhub.models.base import Base
from wfhub.models.llm_request import LlmRequest
from wfhub.models.llm_usage import LlmUsageDaily
from wfhub.models.node import NodeType, TaskNode
from wfhub.models.project import Environment, Project
from wfhub.models.run import RunEvent, RunStatus, TaskRun
from wfhub.models.task import (
    Task,
    TaskAcceptanceCriterion,
    TaskAttachment,
    TaskComment,
    TaskStatus,
)
from wfhub.models.token import ApiToken, TokenKind

__all__ = [
    "ApiToken",
    "Base",
    "Environment",
    "LlmRequest",
    "LlmUsageDaily",
    "NodeType",
    "Project",
    "RunEvent",
    "RunStatus",
    "Task",
    "TaskAcceptanceCriterion",
    "TaskAttachment",
    "TaskComment",
    "TaskNode",
    "TaskRun",
    "TaskStatus",
    "TokenKind",
]
