"""Credentials: the API token, browser sessions and run-scoped gateway tokens, stored only
as SHA-256 hashes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from wfhub.models.base import Base, enum_column, utcnow


class TokenKind(enum.StrEnum):
    api = "api"
    session = "session"
    gateway = "gateway"  # one run's engine process: the LLM gateway only, until it expires


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TokenKind] = mapped_column(enum_column(TokenKind, "token_kind"))
    name: Mapped[str] = mapped_column(String(100), default="default")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime | None]
