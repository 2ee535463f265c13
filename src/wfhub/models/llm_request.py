"""The LLM request ledger: one row per request through the gateway.

Project, task and run ids are plain integers, not foreign keys: the ledger is history, and a
deleted task must neither take its usage with it nor make a late ledger write fail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wfhub.models.base import Base


class LlmRequest(Base):
    __tablename__ = "llm_requests"
    __table_args__ = (
        Index("ix_llm_requests_created_at", "created_at"),
        Index("ix_llm_requests_model_created_at", "model", "created_at"),
        Index("ix_llm_requests_project_created_at", "project_id", "created_at"),
        Index("ix_llm_requests_task_id", "task_id"),
        Index("ix_llm_requests_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    backend: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(300))
    endpoint: Mapped[str] = mapped_column(String(200))
    status: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(20))  # ok | error | aborted | timeout
    stream: Mapped[bool]
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    load_ms: Mapped[float | None] = mapped_column(Float)
    prompt_ms: Mapped[float | None] = mapped_column(Float)
    eval_ms: Mapped[float | None] = mapped_column(Float)
    total_ms: Mapped[float] = mapped_column(Float)
    latency_bucket: Mapped[int]
    """`total_ms` as a histogram bucket (`wfhub.llm.latency.bucket`)."""
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    request_bytes: Mapped[int]
    response_bytes: Mapped[int]
    client: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int | None]
    task_id: Mapped[int | None]
    run_id: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
