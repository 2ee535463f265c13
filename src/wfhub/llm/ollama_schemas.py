"""Request shapes of the Ollama API as the embedded server accepts them.

Unknown top-level fields and options are ignored, as Ollama does (clients send options meant
for other runners); known ones are type-checked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionCall(Lenient):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallIn(Lenient):
    function: FunctionCall


class Message(Lenient):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_name: str | None = None


class Options(Lenient):
    num_ctx: int | None = Field(default=None, ge=1)
    num_predict: int | None = Field(default=None, ge=-2)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    typical_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None
    stop: list[str] | str | None = None
    repeat_penalty: float | None = Field(default=None, ge=0)
    repeat_last_n: int | None = Field(default=None, ge=-1)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    num_keep: int | None = Field(default=None, ge=-1)


Format = Literal["", "json"] | dict[str, Any] | None
KeepAlive = str | float | None


class Common(Lenient):
    model: str = Field(min_length=1, max_length=300)
    format: Format = None
    options: Options | None = None
    stream: bool = True
    keep_alive: KeepAlive = None


class ChatRequest(Common):
    messages: list[Message] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None


class GenerateRequest(Common):
    prompt: str = ""
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    raw: bool = False
    images: list[str] | None = None


class ShowRequest(Lenient):
    model: str = Field(default="", max_length=300)
    name: str = Field(default="", max_length=300)  # the older spelling

    @property
    def wanted(self) -> str:
        return self.model or self.name
