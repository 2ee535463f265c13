from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

CheckStatus = Literal["ok", "down", "low", "not_configured"]


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Check(BaseModel):
    status: CheckStatus
    latency_ms: float
    detail: str


class FullHealth(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    checks: dict[str, Check]
