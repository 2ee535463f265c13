"""HTTP routes for a task's comments, acceptance criteria and attachments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePosixPath

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import FileResponse

from wfhub.db import SessionDep
from wfhub.deps import SettingsDep
from wfhub.errors import ERROR_RESPONSES, NotFound
from wfhub.schemas import IdPath
from wfhub.security.auth import AuthDep
from wfhub.tasks import attachments, details
from wfhub.tasks import service as tasks
from wfhub.tasks.schemas import (
    AttachmentRead,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    CriterionCreate,
    CriterionRead,
    CriterionUpdate,
)

router = APIRouter(
    prefix="/tasks/{task_id}", tags=["tasks"], dependencies=[AuthDep], responses=ERROR_RESPONSES
)


@router.get("/comments", response_model=list[CommentRead])
async def list_comments(task_id: IdPath, session: SessionDep) -> list[CommentRead]:
    return [CommentRead.model_validate(c) for c in await details.list_comments(session, task_id)]


@router.post("/comments", response_model=CommentRead, status_code=201)
async def add_comment(task_id: IdPath, body: CommentCreate, session: SessionDep) -> CommentRead:
    return CommentRead.model_validate(await details.add_comment(session, task_id, body))


@router.patch("/comments/{comment_id}", response_model=CommentRead)
async def update_comment(
    task_id: IdPath, comment_id: IdPath, body: CommentUpdate, session: SessionDep
) -> CommentRead:
    comment = await details.update_comment(session, task_id, comment_id, body)
    return CommentRead.model_validate(comment)


@router.delete("/comments/{comment_id}", status_code=204)
async def delete_comment(task_id: IdPath, comment_id: IdPath, session: SessionDep) -> Response:
    await details.delete_comment(session, task_id, comment_id)
    return Response(status_code=204)


@router.get("/acceptance-criteria", response_model=list[CriterionRead])
async def list_criteria(task_id: IdPath, session: SessionDep) -> list[CriterionRead]:
    items = await details.list_criteria(session, task_id)
    return [CriterionRead.model_validate(c) for c in items]


@router.post("/acceptance-criteria", response_model=CriterionRead, status_code=201)
async def add_criterion(
    task_id: IdPath, body: CriterionCreate, session: SessionDep
) -> CriterionRead:
    return CriterionRead.model_validate(await details.add_criterion(session, task_id, body))


@router.patch("/acceptance-criteria/{criterion_id}", response_model=CriterionRead)
async def update_criterion(
    task_id: IdPath, criterion_id: IdPath, body: CriterionUpdate, session: SessionDep
) -> CriterionRead:
    """Edit the text or set `passed`."""
    criterion = await details.update_criterion(session, task_id, criterion_id, body)
    return CriterionRead.model_validate(criterion)


@router.delete("/acceptance-criteria/{criterion_id}", status_code=204)
async def delete_criterion(task_id: IdPath, criterion_id: IdPath, session: SessionDep) -> Response:
    await details.delete_criterion(session, task_id, criterion_id)
    return Response(status_code=204)


@router.get("/attachments", response_model=list[AttachmentRead])
async def list_attachments(task_id: IdPath, session: SessionDep) -> list[AttachmentRead]:
    items = await details.list_attachments(session, task_id)
    return [AttachmentRead.model_validate(a) for a in items]


def _safe_filename(raw: str | None) -> str:
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in "\"'")[:255].strip()
    return name if name not in {"", ".", ".."} else "attachment"


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(attachments.CHUNK):
        yield chunk


@router.post("/attachments", response_model=AttachmentRead, status_code=201)
async def upload_attachment(
    task_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    file: UploadFile = File(description="The file (multipart/form-data)."),  # noqa: B008
) -> AttachmentRead:
    """Upload a file (capped by WFHUB_MAX_ATTACHMENT_BYTES, 413 above); stored by content."""
    await tasks.get(session, task_id)
    filename = _safe_filename(file.filename)
    blob = await attachments.store(
        settings.attachments_dir, _chunks(file), settings.max_attachment_bytes
    )
    attachment = await details.add_attachment(
        session,
        task_id,
        filename=filename,
        content_type=attachments.guess_content_type(filename, file.content_type),
        blob=blob,
    )
    return AttachmentRead.model_validate(attachment)


@router.get(
    "/attachments/{attachment_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
async def download_attachment(
    task_id: IdPath, attachment_id: IdPath, session: SessionDep, settings: SettingsDep
) -> FileResponse:
    """The file with its content type, always as a download (never rendered inline)."""
    attachment = await details.get_attachment(session, task_id, attachment_id)
    path = attachments.blob_path(settings.attachments_dir, attachment.sha256)
    if not path.is_file():
        raise NotFound(f"the content of attachment {attachment_id} is missing from the store")
    return FileResponse(
        path,
        media_type=attachment.content_type,
        filename=attachment.filename,
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
    )


@router.delete("/attachments/{attachment_id}", status_code=204)
async def delete_attachment(
    task_id: IdPath, attachment_id: IdPath, session: SessionDep, settings: SettingsDep
) -> Response:
    await details.delete_attachment(session, task_id, attachment_id, settings.attachments_dir)
    return Response(status_code=204)
