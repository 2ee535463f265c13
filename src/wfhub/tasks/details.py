"""What hangs off a task: comments, acceptance criteria and attachment rows. Callers commit."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.errors import NotFound
from wfhub.models import TaskAcceptanceCriterion, TaskAttachment, TaskComment
from wfhub.models.base import Base
from wfhub.tasks import attachments
from wfhub.tasks import service as tasks
from wfhub.tasks.schemas import CommentCreate, CommentUpdate, CriterionCreate, CriterionUpdate

Child = TypeVar("Child", TaskComment, TaskAcceptanceCriterion, TaskAttachment)


async def _list(session: AsyncSession, model: type[Child], task_id: int) -> list[Child]:
    await tasks.get(session, task_id)
    order = (
        (TaskAcceptanceCriterion.position, model.id)
        if model is TaskAcceptanceCriterion
        else (model.id,)
    )
    return list(
        await session.scalars(select(model).where(model.task_id == task_id).order_by(*order))
    )


async def _get(session: AsyncSession, model: type[Child], task_id: int, item_id: int) -> Child:
    item = await session.get(model, item_id)
    if item is None or item.task_id != task_id:
        label = model.__tablename__.removeprefix("task_").replace("_", " ")
        raise NotFound(f"task {task_id} has no {label} {item_id}")
    return item


async def _remove(session: AsyncSession, item: Base) -> None:
    await session.delete(item)
    await session.flush()


async def list_comments(session: AsyncSession, task_id: int) -> list[TaskComment]:
    """A task's comments, oldest first."""
    return await _list(session, TaskComment, task_id)


async def add_comment(session: AsyncSession, task_id: int, data: CommentCreate) -> TaskComment:
    """Add a comment to a task."""
    await tasks.get(session, task_id)
    comment = TaskComment(task_id=task_id, author=data.author, body=data.body)
    session.add(comment)
    await session.flush()
    return comment


async def update_comment(
    session: AsyncSession, task_id: int, comment_id: int, data: CommentUpdate
) -> TaskComment:
    """Edit a comment's body."""
    comment = await _get(session, TaskComment, task_id, comment_id)
    comment.body = data.body
    await session.flush()
    return comment


async def delete_comment(session: AsyncSession, task_id: int, comment_id: int) -> None:
    """Delete one comment."""
    await _remove(session, await _get(session, TaskComment, task_id, comment_id))


async def list_criteria(session: AsyncSession, task_id: int) -> list[TaskAcceptanceCriterion]:
    """A task's acceptance criteria in order."""
    return await _list(session, TaskAcceptanceCriterion, task_id)


async def add_criterion(
    session: AsyncSession, task_id: int, data: CriterionCreate
) -> TaskAcceptanceCriterion:
    """Append an acceptance criterion."""
    await tasks.get(session, task_id)
    last = await session.scalar(
        select(func.max(TaskAcceptanceCriterion.position)).where(
            TaskAcceptanceCriterion.task_id == task_id
        )
    )
    criterion = TaskAcceptanceCriterion(
        task_id=task_id,
        description=data.description,
        passed=data.passed,
        position=0 if last is None else last + 1,
    )
    session.add(criterion)
    await session.flush()
    return criterion


async def update_criterion(
    session: AsyncSession, task_id: int, criterion_id: int, data: CriterionUpdate
) -> TaskAcceptanceCriterion:
    """Change a criterion's text or mark it passed/failed."""
    criterion = await _get(session, TaskAcceptanceCriterion, task_id, criterion_id)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(criterion, field, value)
    await session.flush()
    return criterion


async def delete_criterion(session: AsyncSession, task_id: int, criterion_id: int) -> None:
    """Delete one acceptance criterion."""
    await _remove(session, await _get(session, TaskAcceptanceCriterion, task_id, criterion_id))


async def list_attachments(session: AsyncSession, task_id: int) -> list[TaskAttachment]:
    """A task's attachments, oldest first."""
    return await _list(session, TaskAttachment, task_id)


async def add_attachment(
    session: AsyncSession,
    task_id: int,
    *,
    filename: str,
    content_type: str,
    blob: attachments.StoredBlob,
) -> TaskAttachment:
    """Record an attachment whose content is already in the blob store."""
    attachment = TaskAttachment(
        task_id=task_id,
        filename=filename,
        content_type=content_type,
        size=blob.size,
        sha256=blob.sha256,
    )
    session.add(attachment)
    await session.flush()
    return attachment


async def get_attachment(session: AsyncSession, task_id: int, attachment_id: int) -> TaskAttachment:
    """One attachment row of a task, or NotFound."""
    return await _get(session, TaskAttachment, task_id, attachment_id)


async def delete_attachment(
    session: AsyncSession, task_id: int, attachment_id: int, attachments_dir: Path
) -> None:
    """Delete an attachment; its blob goes once no other attachment shares the content."""
    attachment = await _get(session, TaskAttachment, task_id, attachment_id)
    attachments.release_shas_on_commit(session, attachments_dir, [attachment.sha256])
    await _remove(session, attachment)
