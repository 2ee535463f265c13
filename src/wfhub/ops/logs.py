"""Service logs: one rotating JSON-lines file per service, redacted, and read back.

Every wfhub process names itself (`main-api`, `agent-api`, `worker`, `model-server`) and
writes its records to `$WFHUB_HOME/logs/<service>.log`, one JSON object a line (`ts`, `level`,
`logger`, `message`, `exc` when there is one), rotated at `WFHUB_LOG_MAX_BYTES` with
`WFHUB_LOG_BACKUPS` older files (`.1` newest). A supervised child does not write the file
itself: its parent reads the child's output and is the file's one writer, so rotation never
races. Credentials are replaced by `***` before a line reaches any handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from wfhub.config import Settings
from wfhub.errors import InvalidInput
from wfhub.security.redact import redact

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
BLOCK_BYTES = 64 * 1024
LogRecordDict = dict[str, Any]


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


class RedactingFilter(logging.Filter):
    """Replaces the record's message by its redacted text, so no handler sees a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "wfhub_line"):
            record.msg, record.args = redact(record.getMessage()), None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line. A record carrying `wfhub_line` (a child's line already in
    this shape) is written as it is."""

    def format(self, record: logging.LogRecord) -> str:
        line: str | None = getattr(record, "wfhub_line", None)
        if line is not None:
            return line
        entry: LogRecordDict = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def log_path(settings: Settings, service: str) -> Path:
    if not SERVICE_NAME.match(service):
        raise InvalidInput(f"{service!r} is not a service name (lowercase letters, digits, -)")
    return settings.logs_dir / f"{service}.log"


def file_handler(settings: Settings, service: str) -> RotatingFileHandler:
    """The rotating JSON-lines handler of `service`'s log file."""
    path = log_path(settings, service)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = RotatingFileHandler(
        path, maxBytes=settings.log_max_bytes, backupCount=settings.log_backups, encoding="utf-8"
    )
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(settings: Settings, service: str | None) -> None:
    """Root logging for this process: JSON lines into `service`'s file (or, for a supervised
    child, `service=None`, JSON lines on stderr for the parent to collect)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stream = logging.StreamHandler(sys.stderr)
    stream.addFilter(RedactingFilter())
    if service is None:
        stream.setFormatter(JsonFormatter())
    else:
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler(settings, service))
    root.addHandler(stream)
    root.setLevel(settings.log_level.upper())


def wrap_line(service: str, text: str) -> str:
    """A child's output line as a JSON log line: kept when it already is one (after
    redaction), wrapped otherwise (llama.cpp's own prints)."""
    text = redact(text.rstrip("\r\n"))
    try:
        entry = json.loads(text)
    except ValueError:
        entry = None
    if isinstance(entry, dict) and "message" in entry:
        return json.dumps(entry, ensure_ascii=False)
    now = datetime.now(UTC).timestamp()
    wrapped = {"ts": _timestamp(now), "level": "info", "logger": service, "message": text}
    return json.dumps(wrapped, ensure_ascii=False)


def parse_line(line: str) -> LogRecordDict:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    return entry if isinstance(entry, dict) else {"message": line.rstrip("\n")}


def _lines_backwards(path: Path, end: int | None = None) -> Iterator[str]:
    """The file's lines from the last to the first, reading blocks from the end."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        position = handle.seek(0, 2) if end is None else end
        rest = b""
        while position > 0:
            step = min(BLOCK_BYTES, position)
            position -= step
            handle.seek(position)
            block = handle.read(step) + rest
            lines = block.split(b"\n")
            rest = lines.pop(0)
            for line in reversed(lines):
                if line.strip():
                    yield line.decode("utf-8", "replace")
        if rest.strip():
            yield rest.decode("utf-8", "replace")


def _is_before(entry: LogRecordDict, since: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(entry["ts"])) < since
    except (KeyError, ValueError):
        return False  # a line without a time is never filtered out


def tail(path: Path, count: int, since: datetime | None) -> tuple[list[LogRecordDict], int]:
    """The last `count` lines at or after `since` across the file and its rotated
    predecessors, oldest first, and the current file's size they were read up to."""
    try:
        end = path.stat().st_size
    except FileNotFoundError:
        end = 0
    found: list[LogRecordDict] = []
    files = [path, *(path.with_name(f"{path.name}.{i}") for i in range(1, 101))]
    for index, file in enumerate(files):
        if index and not file.exists():
            break
        for line in _lines_backwards(file, end if index == 0 else None):
            entry = parse_line(line)
            if since is not None and _is_before(entry, since):
                return found[::-1], end
            found.append(entry)
            if len(found) >= count:
                return found[::-1], end
    return found[::-1], end


def services_on_disk(settings: Settings) -> dict[str, Path]:
    """Services that have a log file in the data dir, by name."""
    if not settings.logs_dir.is_dir():
        return {}
    return {
        p.name.removesuffix(".log"): p
        for p in sorted(settings.logs_dir.glob("*.log"))
        if SERVICE_NAME.match(p.name.removesuffix(".log"))
    }
