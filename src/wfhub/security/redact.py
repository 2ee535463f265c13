"""Removing credentials from text that is stored or logged (ledger errors, log lines)."""

from __future__ import annotations

import re

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{4,}"
    ),
    re.compile(r"\b(sk-)[A-Za-z0-9_-]{16,}"),
    re.compile(r"\b(wfh_)[A-Za-z0-9_-]{16,}"),
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"),
]


def redact(text: str) -> str:
    """`text` with anything that looks like a credential replaced by `***`."""
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + "***" + (m.group(2) if m.lastindex == 2 else ""), text
        )
    return text
