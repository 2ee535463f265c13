"""Workspace HTTP routes: lifecycle, files, search. Git routes live in `git_endpoints.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from wfhub.db import SessionDep
from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES, InvalidInput, PayloadTooLarge, WfhubError
from wfhub.schemas import IdPath
from wfhub.security.auth import AuthDep
from wfhub.workspace import content, files, lifecycle, search
from wfhub.workspace.git_status import BadgeCache
from wfhub.workspace.paths import join, split_path
from wfhub.workspace.schemas import (
    FilePath,
    FileWrite,
    MoveRequest,
    OptionalPath,
    WorkspacePath,
    WorkspaceSetup,
)
from wfhub.workspace.service import ProjectWorkspace, open_workspace

router = APIRouter(
    prefix="/workspace/{project_id}",
    tags=["workspace"],
    dependencies=[AuthDep],
    responses=ERROR_RESPONSES,
)
Json = dict[str, Any]
MAX_OFFSET = 2**62  # larger byte offsets overflow the OS's off_t


async def _workspace(
    project_id: IdPath, session: SessionDep, settings: SettingsDep
) -> ProjectWorkspace:
    return await open_workspace(session, settings, project_id)


WorkspaceDep = Annotated[ProjectWorkspace, Depends(_workspace)]


async def badge_cache(request: Request) -> BadgeCache:
    cache: BadgeCache = request.app.state.badge_cache
    return cache


BadgeCacheDep = Annotated[BadgeCache, Depends(badge_cache)]


@router.get("/info")
async def workspace_info(ws: WorkspaceDep) -> Json:
    """Whether the folder exists and is a git repository; branch, remote, size, file count."""
    return await lifecycle.info(ws.root, ws.git)


@router.post("/setup", response_model=None)
async def setup_workspace(body: WorkspaceSetup, ws: WorkspaceDep) -> Json | StreamingResponse:
    """Create the folder, `git init` it, or clone into it (NDJSON progress lines)."""
    if body.action != "clone":
        if body.source is not None:
            raise InvalidInput("source is only used with action=clone")
        await lifecycle.create(ws.root, init_git=body.action == "init", git=ws.git)
        return await lifecycle.info(ws.root, ws.git)
    if body.source is None:
        raise InvalidInput("action=clone needs a source")
    progress: AsyncGenerator[dict[str, Any]] = lifecycle.clone(ws.root, body.source, ws.git)
    first = await anext(progress)  # validation errors become a normal error response

    async def lines() -> AsyncIterator[bytes]:
        yield orjson.dumps(first) + b"\n"
        try:
            async for event in progress:
                yield orjson.dumps(event) + b"\n"
            yield (
                orjson.dumps({"phase": "done", "info": await lifecycle.info(ws.root, ws.git)})
                + b"\n"
            )
        except WfhubError as exc:
            yield orjson.dumps({"error": exc.code, "detail": exc.detail}) + b"\n"
        finally:
            await progress.aclose()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/files")
async def list_files(
    ws: WorkspaceDep,
    cache: BadgeCacheDep,
    path: WorkspacePath = "",
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Annotated[int, Query(ge=1, le=files.PAGE_LIMIT)] = files.PAGE_LIMIT,
    hide_ignored: bool = False,
    fresh: Annotated[bool, Query(description="Wait for a new git status snapshot.")] = False,
) -> Json:
    """One directory, folders first, paged with `next_cursor`; git badges from a snapshot."""
    # A stat, not `git rev-parse`: that subprocess was most of a listing's time (measured).
    in_repo = await asyncio.to_thread(ws.git.has_git_dir)
    snapshot = await cache.get(ws.git, fresh=fresh) if in_repo else None
    return await asyncio.to_thread(
        files.list_dir,
        ws.files,
        path,
        snapshot=snapshot,
        cursor=cursor,
        limit=limit,
        hide_ignored=hide_ignored,
    )


@router.get("/tree")
async def file_tree(
    ws: WorkspaceDep, path: WorkspacePath = "", depth: Annotated[int, Query(ge=1, le=10)] = 2
) -> Json:
    """Nested listing to `depth` levels (at most 5,000 entries)."""
    return await asyncio.to_thread(files.tree, ws.files, path, depth=depth)


@router.get("/file", response_model=None)
async def read_file(
    ws: WorkspaceDep,
    settings: SettingsDep,
    path: FilePath,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    length: Annotated[int | None, Query(ge=0, le=MAX_OFFSET)] = None,
    raw: Annotated[
        bool, Query(description="The bytes themselves, with their content type.")
    ] = False,
) -> Json | StreamingResponse:
    """Text with encoding and language, or `raw=true` for the bytes (images, downloads)."""
    if raw:
        return await _download(ws, path, offset, length)
    return await asyncio.to_thread(
        files.read, ws.files, path, offset=offset, length=length, max_bytes=settings.read_max_bytes
    )


async def _download(
    ws: ProjectWorkspace, path: str, offset: int, length: int | None
) -> StreamingResponse:
    handle, info, resolved = await asyncio.to_thread(files.open_for_download, ws.files, path)
    available = max(0, info.st_size - offset)
    size = available if length is None else min(length, available)
    media_type = content.media_type_for_download(resolved)
    name = resolved.rsplit("/", 1)[-1].replace('"', "")
    disposition = "inline" if media_type.startswith("image/") else "attachment"
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f'{disposition}; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    body = files.iter_range(handle, offset, size)
    return StreamingResponse(body, media_type=media_type, headers=headers)


@router.put("/file")
async def write_file(
    request: Request,
    ws: WorkspaceDep,
    cache: BadgeCacheDep,
    path: FilePath,
    create: Annotated[bool, Query(description="Refuse to replace an existing file.")] = False,
    if_match: Annotated[str | None, Header(max_length=100)] = None,
) -> Json:
    """Write raw bytes, or JSON `{"content", "version"}`; a stale `version`/`If-Match` gets 409."""
    data = await request.body()
    version = if_match.strip('"') if if_match else None
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            body = FileWrite.model_validate_json(data)
        except ValueError as exc:
            raise InvalidInput(f'body must be {{"content": str, "version"?: str}}: {exc}') from None
        data, version = body.content.encode(), body.version or version
    result = await asyncio.to_thread(
        files.write, ws.files, path, data, expected_version=version, create_only=create
    )
    cache.invalidate(ws.root)
    return result


@router.delete("/file", status_code=204)
async def delete_file(
    ws: WorkspaceDep, cache: BadgeCacheDep, path: FilePath, recursive: bool = False
) -> Response:
    """Delete a file or symlink; a directory needs `recursive=true` unless empty."""
    await asyncio.to_thread(files.delete, ws.files, path, recursive=recursive)
    cache.invalidate(ws.root)
    return Response(status_code=204)


@router.post("/mkdir", status_code=201)
async def make_directory(ws: WorkspaceDep, path: FilePath) -> Json:
    """Create a directory (and missing parents)."""
    return await asyncio.to_thread(files.mkdir, ws.files, path)


@router.post("/move")
async def move_path(body: MoveRequest, ws: WorkspaceDep, cache: BadgeCacheDep) -> Json:
    """Rename or move a file or directory; an existing target needs `overwrite`."""
    result = await asyncio.to_thread(
        files.move, ws.files, body.source, body.target, overwrite=body.overwrite
    )
    cache.invalidate(ws.root)
    return result


@router.post("/upload", status_code=201)
async def upload_files(
    ws: WorkspaceDep,
    cache: BadgeCacheDep,
    settings: SettingsDep,
    uploads: list[UploadFile],
    path: WorkspacePath = "",
) -> Json:
    """Upload files (multipart field `uploads`) into a directory; existing names are replaced.
    Every name and size is checked before the first file is written."""
    directory = split_path(path)
    checked: list[tuple[str, bytes]] = []
    for upload in uploads:
        name = (upload.filename or "").rsplit("/", 1)[-1]
        if not name or name in (".", ".."):
            raise InvalidInput("every upload needs a file name")
        data = await upload.read(settings.max_attachment_bytes + 1)
        if len(data) > settings.max_attachment_bytes:
            raise PayloadTooLarge(f"{name!r} is over {settings.max_attachment_bytes} bytes")
        checked.append((join([*directory, *split_path(name)]), data))
    written = [
        await asyncio.to_thread(files.write, ws.files, target, data) for target, data in checked
    ]
    cache.invalidate(ws.root)
    return {"files": written}


@router.get("/search")
async def search_content(
    ws: WorkspaceDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    regex: bool = False,
    case: search.Case = "smart",
    glob: Annotated[list[str] | None, Query(max_length=50)] = None,
    context: Annotated[int, Query(ge=0, le=20)] = 0,
    max_results: Annotated[int, Query(ge=1, le=10_000)] = 200,
    path: OptionalPath = None,
    engine: search.Engine | None = None,
) -> Json:
    """Content search (ripgrep or the Python engine), `.gitignore` aware, capped."""
    if "\0" in q or any("\0" in g for g in glob or []):
        raise InvalidInput("NUL bytes are not allowed")
    under = await asyncio.to_thread(ws.files.resolve_dir, path or "")
    query = search.Query(
        pattern=q,
        regex=regex,
        case=case,
        globs=tuple(glob or ()),
        context=context,
        max_results=max_results,
        path=under,
    )
    return await search.search(ws.files, query, engine or settings.search_engine)


@router.get("/glob")
async def glob_files(
    ws: WorkspaceDep,
    pattern: Annotated[str, Query(min_length=1, max_length=1000)],
    path: OptionalPath = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> Json:
    """Files whose path matches a glob (`*.py` at any depth, `src/**/*.ts`)."""
    if "\0" in pattern:
        raise InvalidInput("NUL bytes are not allowed")
    under = await asyncio.to_thread(ws.files.resolve_dir, path or "")
    return await search.find_files(ws.root, pattern, under=under, limit=limit)
