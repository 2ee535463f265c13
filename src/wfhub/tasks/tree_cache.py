"""Encoded task-tree pages, reused while the project's tasks are unchanged.

A 5,000-task tree takes tens of milliseconds to query and encode, and the UI asks for the
same tree again and again. Each entry is stamped with the project's `tasks_version` (bumped
by a database trigger on every task change, whichever process made it) and `created_at`
(an id SQLite reuses after a delete gets a new project with a new creation time), so a
stale page is never served: the stamp is read from the database on every request.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime
from typing import NamedTuple

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class TreeStamp(NamedTuple):
    project_id: int
    created_at: datetime
    tasks_version: int

    @property
    def etag(self) -> str:
        """A weak validator for the tree of this project state (per URL, as HTTP keys it)."""
        created = int(self.created_at.timestamp() * 1_000_000)
        return f'W/"{self.project_id}-{created}-{self.tasks_version}"'


class TreeCache:
    """A least-recently-used map of (stamp, query) -> encoded page, bounded in bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, Hashable], tuple[TreeStamp, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, stamp: TreeStamp, query: Hashable) -> bytes | None:
        key = (stamp.project_id, query)
        entry = self._entries.get(key)
        if entry is None or entry[0] != stamp:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, stamp: TreeStamp, query: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        key = (stamp.project_id, query)
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old[1])
        self._entries[key] = (stamp, body)
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    @property
    def size_bytes(self) -> int:
        return self._bytes
