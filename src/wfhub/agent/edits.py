"""What the model is shown of files (clipped, numbered), and guards between a small model
and the files it changes: a path it half-invented is resolved to the file it meant, and a
change that would break a Python file is refused."""

from __future__ import annotations

import ast
from pathlib import Path

READ_MAX_BYTES = 512 * 1024
OBSERVATION_CHARS = 12_000
# Parsing runs on the event loop and holds it (the parser never lets go of the GIL): ~0.2 ms
# a KB here, so files up to this size are judged (~10 ms each way); larger ones are not.
JUDGED_CHARS = 64 * 1024


def clip(text: str, limit: int = OBSERVATION_CHARS) -> str:
    if len(text) <= limit:
        return text
    return (
        text[: limit // 2]
        + f"\n... [{len(text) - limit} characters cut] ...\n"
        + text[-limit // 2 :]
    )


def numbered(text: str) -> str:
    """A file's lines with their numbers, clipped, as the model is shown a file."""
    lines = text.splitlines()
    return clip("\n".join(f"{n:>5}  {line}" for n, line in enumerate(lines, 1)), 4000)


def locate(root: Path, path: str, *, creating: bool = False) -> tuple[str, str]:
    """The path the model meant, and a note when it is not the one it wrote.

    Small models prefix paths with folders they invented (`path/to/repo/calc.py`, the
    worktree's absolute path): when the path does not exist (for a new file: its folder
    does not) and dropping leading folders names an existing file, that file is meant.
    Only a name is chosen here; the file operation itself is confined as always."""
    prefix = f"{root}/"
    relative = path[len(prefix) :] if path.startswith(prefix) else path
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or (root / relative).exists():
        return relative, ""
    if creating and (root / relative).parent.is_dir():
        return relative, ""  # a new file in a folder that exists
    for start in range(1, len(parts)):
        candidate = "/".join(parts[start:])
        if (root / candidate).is_file():
            return candidate, f" (there is no {path}; used {candidate})"
    return relative, ""


def breaks_python(path: str, before: object, after: str) -> str | None:
    """An error observation when a change would leave a Python file that parsed unable to
    parse (so nothing is written), else None. A small model's partial edit (`def add`
    replaced by a whole function) otherwise leaves a file that no longer imports, and the
    model rarely finds its way back from there."""
    if not path.endswith(".py") or not isinstance(before, str):
        return None
    if max(len(before), len(after)) > JUDGED_CHARS:
        return None
    if _syntax_error(before, path) is not None:
        return None  # it did not compile before (or needs a newer Python): no judgement
    problem = _syntax_error(after, path)
    if problem is None:
        return None
    return (
        f"error: not applied: the change would make {path} invalid Python ({problem}). "
        f"Edit whole lines. {path} is unchanged:\n{numbered(before)}"
    )


def _syntax_error(text: str, path: str) -> str | None:
    try:
        # The parser only (what a partial edit breaks): a full compile took 5x as long.
        compile(text, path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # NUL bytes
        return str(exc)
    except (RecursionError, MemoryError):  # Python could not import such a file either
        return "nested too deeply for Python's parser"
    return None
