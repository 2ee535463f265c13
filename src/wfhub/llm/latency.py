"""Latency histograms with a bounded relative error, so percentiles can be summed up.

Exact percentiles need every value sorted; over a million ledger rows that is seconds of work
on SQLite. A histogram with logarithmic buckets (the DDSketch scheme) answers any percentile
within `RELATIVE_ERROR` of the true value, and histograms of days, models and projects add up
by adding counts. A value `v` falls in bucket `ceil(log(v) / log(GAMMA))`; a bucket reports
`2 * GAMMA**i / (GAMMA + 1)`, which is within 1 % of every value the bucket holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import accumulate
from operator import add

import orjson

RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(GAMMA)
SMALLEST_MS = 0.001  # anything quicker is counted as one microsecond


def bucket(ms: float) -> int:
    return math.ceil(math.log(max(ms, SMALLEST_MS)) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    return round(2 * GAMMA**index / (GAMMA + 1), 3)


class Histogram:
    """Counts per bucket, stored densely from the lowest bucket seen: merging two is one
    `map(add)` over aligned lists (C speed), which is what summing thousands of daily rows
    needs."""

    __slots__ = ("counts", "first")

    def __init__(self, first: int = 0, counts: list[int] | None = None) -> None:
        self.first = first
        self.counts = counts if counts is not None else []

    def _cover(self, low: int, high: int) -> None:
        """Widen to hold buckets `low..high` (inclusive)."""
        if not self.counts:
            self.first, self.counts = low, [0] * (high - low + 1)
            return
        if low < self.first:
            self.counts[:0] = [0] * (self.first - low)
            self.first = low
        missing = high - (self.first + len(self.counts) - 1)
        if missing > 0:
            self.counts.extend([0] * missing)

    def add_count(self, index: int, count: int = 1) -> None:
        self._cover(index, index)
        self.counts[index - self.first] += count

    def merge(self, other: Histogram) -> None:
        if not other.counts:
            return
        self._cover(other.first, other.first + len(other.counts) - 1)
        start = other.first - self.first
        stop = start + len(other.counts)
        self.counts[start:stop] = map(add, self.counts[start:stop], other.counts)

    def to_json(self) -> str:
        return orjson.dumps([self.first, *self.counts]).decode()

    @classmethod
    def from_json(cls, text: str) -> Histogram:
        values = orjson.loads(text)
        return cls(values[0], values[1:]) if values else cls()

    def percentiles(self, *ps: float) -> list[float | None]:
        """Nearest rank: for each `p` (ascending), the smallest value with at least `p` of all
        values at or below it; one pass for all of them."""
        total = sum(self.counts)
        if not total:
            return [None] * len(ps)
        found: list[float | None] = []
        ranks = iter(max(1, math.ceil(p * total)) for p in ps)
        rank = next(ranks)
        for offset, seen in enumerate(accumulate(self.counts)):
            while seen >= rank:
                found.append(bucket_value(self.first + offset))
                if len(found) == len(ps):
                    return found
                rank = next(ranks)
        raise AssertionError("unreachable: the ranks add up to the total")


@dataclass
class Tally:
    """Requests, errors, tokens and the latency histogram of one group."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    histogram: Histogram = field(default_factory=Histogram)

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.histogram.merge(other.histogram)
