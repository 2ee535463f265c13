"""The API token and browser sessions. Only SHA-256 hashes are stored in the database.

The plaintext API token lives in `$WFHUB_HOME/token` (mode 0600) so the CLI and the operator
can read it; a token is 256 random bits, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.models import ApiToken, TokenKind
from wfhub.models.base import utcnow

TOKEN_PREFIX = "wfh_"  # noqa: S105 - a marker, not a secret


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_for_session(session_secret: str) -> str:
    """The CSRF token paired with a session: derivable only by whoever holds the cookie."""
    return hashlib.sha256(b"wfhub-csrf:" + session_secret.encode()).hexdigest()


def write_private_file(path: Path, content: str) -> None:
    """Write atomically with mode 0600 from the first byte (no window where others can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_token_file(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    return token or None


async def ensure_api_token(session: AsyncSession, token_file: Path) -> str:
    """Return the API token, creating it on first start and registering a file's token."""
    token = read_token_file(token_file)
    if token is None:
        token = new_secret()
        write_private_file(token_file, token + "\n")
    digest = hash_secret(token)
    found = await session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest))
    if found is None:
        session.add(ApiToken(kind=TokenKind.api, token_hash=digest))
        await session.flush()
    return token


async def rotate_api_token(session: AsyncSession) -> str:
    """Replace every API token and end every browser session; returns the new token.

    The caller writes the token file only after its commit succeeded, so a failed rotation
    leaves the old token working and on disk.
    """
    await session.execute(delete(ApiToken))
    token = new_secret()
    session.add(ApiToken(kind=TokenKind.api, token_hash=hash_secret(token)))
    await session.flush()
    return token


async def valid_kind(
    session: AsyncSession, secret: str, kinds: Collection[TokenKind]
) -> TokenKind | None:
    """Which of `kinds` the secret is a live credential of, if any (one indexed lookup)."""
    row = await session.execute(
        select(ApiToken.kind, ApiToken.expires_at).where(
            ApiToken.token_hash == hash_secret(secret), ApiToken.kind.in_(kinds)
        )
    )
    found = row.first()
    if found is None:
        return None
    kind: TokenKind = found[0]
    expires_at: datetime | None = found[1]
    return kind if expires_at is None or expires_at > utcnow() else None


async def is_valid(session: AsyncSession, secret: str, kind: TokenKind) -> bool:
    return await valid_kind(session, secret, (kind,)) is not None


async def create_session(session: AsyncSession, ttl_seconds: int) -> tuple[str, datetime]:
    """A new browser session secret and its expiry; expired sessions are swept on the way."""
    now = utcnow()
    await session.execute(
        delete(ApiToken).where(ApiToken.kind == TokenKind.session, ApiToken.expires_at <= now)
    )
    secret = new_secret()
    expires_at = now + timedelta(seconds=ttl_seconds)
    session.add(
        ApiToken(
            kind=TokenKind.session,
            name="browser",
            token_hash=hash_secret(secret),
            expires_at=expires_at,
        )
    )
    await session.flush()
    return secret, expires_at


async def end_session(session: AsyncSession, secret: str) -> None:
    await session.execute(
        delete(ApiToken).where(
            ApiToken.token_hash == hash_secret(secret), ApiToken.kind == TokenKind.session
        )
    )


async def create_gateway_token(session: AsyncSession, name: str, ttl_seconds: float) -> str:
    """A token that only the LLM gateway accepts, until it expires or is revoked: what an
    engine process (Aider) gets instead of the API token, so a prompt-injected engine can
    at most call models. Expired ones are swept on the way."""
    now = utcnow()
    await session.execute(
        delete(ApiToken).where(ApiToken.kind == TokenKind.gateway, ApiToken.expires_at <= now)
    )
    secret = new_secret()
    session.add(
        ApiToken(
            kind=TokenKind.gateway,
            name=name[:100],
            token_hash=hash_secret(secret),
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await session.flush()
    return secret


async def revoke_gateway_token(session: AsyncSession, secret: str) -> None:
    await session.execute(
        delete(ApiToken).where(
            ApiToken.token_hash == hash_secret(secret), ApiToken.kind == TokenKind.gateway
        )
    )
