"""Stopping a run that goes round in circles, with the reason recorded."""

from __future__ import annotations

import hashlib
from collections import Counter

SAME_STEP_LIMIT = 4
SAME_ERROR_LIMIT = 3


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class StuckDetector:
    """Counts identical (action, observation) pairs and identical errors over the run; the
    model is not making progress when it sees the same result of the same action
    `SAME_STEP_LIMIT` times, or hits the same error `SAME_ERROR_LIMIT` times."""

    def __init__(self) -> None:
        self.steps: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def observe(self, action: str, observation: str, ok: bool) -> str | None:
        """The reason to stop, or None to go on."""
        step = _digest(action, observation)
        self.steps[step] += 1
        if self.steps[step] >= SAME_STEP_LIMIT:
            return (
                f"stuck: the same action gave the same result {SAME_STEP_LIMIT} times "
                f"({action[:200]})"
            )
        if not ok:
            error = _digest(observation)
            self.errors[error] += 1
            if self.errors[error] >= SAME_ERROR_LIMIT:
                return f"stuck: the same error {SAME_ERROR_LIMIT} times: {observation[:300]}"
        return None
