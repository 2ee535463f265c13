"""Daily usage per model, project, task and run, kept up to date with the ledger.

`/llm/usage` answers from here instead of scanning `llm_requests`: a day, model, project,
task and run is one row however many requests it saw (an agent run's requests come in a
burst, so a run is typically one or two rows; untagged requests share one row per day, model
and project). The ledger writer updates it in the same
transaction as the rows it inserts, so the two never disagree. `version` makes concurrent
writers (several hub processes) retry instead of overwriting each other.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wfhub.models.base import Base

NONE = 0  # no project, task or run (NULL would defeat the unique key)


class LlmUsageDaily(Base):
    __tablename__ = "llm_usage_daily"
    __table_args__ = (UniqueConstraint("day", "model", "project_id", "task_id", "run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    model: Mapped[str] = mapped_column(String(300))
    project_id: Mapped[int]
    task_id: Mapped[int]
    run_id: Mapped[int]
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)
    latency_histogram: Mapped[str] = mapped_column(Text)
    """JSON array: the first latency bucket (see `wfhub.llm.latency`), then the requests in
    it and in each bucket after it."""
    version: Mapped[int]
