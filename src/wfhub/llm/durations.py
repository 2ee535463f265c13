"""Ollama's `keep_alive`: seconds as a number, or a Go duration string ("5m", "1h30m", "-1")."""

from __future__ import annotations

import math
import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
FOREVER = math.inf


def parse_duration(value: str | float | int) -> float:
    """Seconds; negative values mean "keep forever" and come back as `FOREVER`."""
    if isinstance(value, bool):
        raise ValueError("keep_alive must be a duration, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        try:
            seconds = sign * float(body)  # a bare number is seconds
        except ValueError:
            matched = _PART.findall(body)
            if not body or "".join(n + u for n, u in matched) != body:
                raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h, -1)") from None
            seconds = sign * sum(float(n) * _UNITS[u] for n, u in matched)
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {value!r}")
    return FOREVER if seconds < 0 else seconds
