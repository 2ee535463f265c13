"""Content-addressed attachment storage under `$WFHUB_HOME/attachments/ab/<sha256>`.

A blob is written (atomically) before its row is inserted, so a row never points at a partial
file. Blobs no longer referenced are removed after the deleting transaction commits. A blob
touched in the last `GRACE_SECONDS` is kept: an upload of the same content may be writing its
row right now, and removing the blob under it would lose data; leaking a blob is the safer side.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.db import after_commit
from wfhub.errors import PayloadTooLarge
from wfhub.models import TaskAttachment

GRACE_SECONDS = 300
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


def blob_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def guess_content_type(filename: str, declared: str | None) -> str:
    """The declared type when it is a plausible MIME type, else one guessed from the name."""
    if declared and "/" in declared and len(declared) <= 255 and declared.isascii():
        main = declared.split(";", 1)[0].strip().lower()
        if main and main != "application/octet-stream":
            return main
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


async def store(root: Path, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
    """Stream `chunks` into the store, refusing past `max_bytes`; returns hash and size."""
    tmp_dir = root / "tmp"
    await anyio.Path(tmp_dir).mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / secrets.token_hex(16)
    digest = hashlib.sha256()
    size = 0
    try:
        async with await anyio.open_file(tmp, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"attachment over the {max_bytes}-byte limit")
                digest.update(chunk)
                await handle.write(chunk)
        sha = digest.hexdigest()
        final = blob_path(root, sha)
        await anyio.to_thread.run_sync(_place, tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return StoredBlob(sha256=sha, size=size)


def _place(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.utime(final)  # refresh the grace period for this reuse
        return
    os.replace(tmp, final)


async def release_on_commit(session: AsyncSession, root: Path, task_ids: Select[int]) -> None:
    """Schedule removal of the blobs of these tasks' attachments, once the delete commits."""
    shas = set(
        await session.scalars(
            select(TaskAttachment.sha256).where(TaskAttachment.task_id.in_(task_ids))
        )
    )
    release_shas_on_commit(session, root, shas)


def release_shas_on_commit(session: AsyncSession, root: Path, shas: Iterable[str]) -> None:
    candidates = set(shas)
    if not candidates:
        return

    async def collect() -> None:
        still_used = set(
            await session.scalars(
                select(TaskAttachment.sha256).where(TaskAttachment.sha256.in_(candidates))
            )
        )
        await anyio.to_thread.run_sync(_unlink_unused, root, candidates - still_used)

    after_commit(session, collect)


def _unlink_unused(root: Path, shas: set[str]) -> None:
    cutoff = time.time() - GRACE_SECONDS
    for sha in shas:
        path = blob_path(root, sha)
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            continue


async def sweep(session: AsyncSession, root: Path) -> int:
    """Remove every unreferenced blob past its grace period (run at start-up); returns count."""
    on_disk = await anyio.to_thread.run_sync(_blobs_on_disk, root)
    if not on_disk:
        return 0
    used = set(await session.scalars(select(TaskAttachment.sha256).distinct()))
    unused = on_disk - used
    await anyio.to_thread.run_sync(_unlink_unused, root, unused)
    return len(unused)


def _blobs_on_disk(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {p.name for p in root.glob("??/*") if len(p.name) == 64}
