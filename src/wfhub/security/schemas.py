from __future__ import annotations

from datetime import datetime

from pydantic import Field

from wfhub.schemas import StrictModel


class LoginRequest(StrictModel):
    token: str = Field(min_length=1, max_length=200, description="The API token.")


class LoginResponse(StrictModel):
    csrf_token: str = Field(description="Send as X-CSRF-Token on POST/PUT/PATCH/DELETE.")
    expires_at: datetime
