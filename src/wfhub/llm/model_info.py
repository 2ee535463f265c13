"""What `/api/tags`, `/api/show` and `/api/ps` say about a local model."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from wfhub.llm.registry import LocalModel
from wfhub.llm.runtime import Loaded

CAPABILITIES = ["completion", "tools"]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def digest(model: LocalModel) -> str:
    """The file's sha256 for catalogue models; for a user's GGUF, a digest of its identity
    (path, size, mtime), since hashing gigabytes on every listing would be too slow."""
    if model.catalog is not None:
        return model.catalog.sha256
    stat = model.path.stat()
    identity = f"{model.path}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    return hashlib.sha256(identity).hexdigest()


def details(model: LocalModel) -> dict[str, Any]:
    catalog = model.catalog
    family = catalog.family if catalog else "unknown"
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": catalog.parameter_size if catalog else "",
        "quantization_level": catalog.quantization if catalog else "",
    }


def tag_entry(model: LocalModel) -> dict[str, Any]:
    stat = model.path.stat()
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": _iso(stat.st_mtime),
        "size": stat.st_size,
        "digest": digest(model),
        "details": details(model),
    }


def show_entry(model: LocalModel, default_context: int) -> dict[str, Any]:
    catalog = model.catalog
    context = catalog.context_length if catalog else default_context
    family = catalog.family if catalog else "unknown"
    capabilities = [*CAPABILITIES, "insert"] if catalog and family == "qwen2" else CAPABILITIES
    # As Ollama lists a Modelfile's PARAMETER lines: the defaults a request can override.
    parameters = [("num_ctx", default_context), *(catalog.sampling if catalog else ())]
    lines = [f"{name} {value:g}" for name, value in parameters]
    return {
        "modelfile": f"FROM {model.path}\n" + "".join(f"PARAMETER {line}\n" for line in lines),
        "parameters": "\n".join(lines),
        "template": "",  # no Go template: llama.cpp applies the GGUF's own chat template
        "details": details(model),
        "model_info": {"general.architecture": family, f"{family}.context_length": context},
        "capabilities": capabilities,
        "modified_at": _iso(model.path.stat().st_mtime),
    }


def ps_entry(loaded: Loaded) -> dict[str, Any]:
    model = loaded.spec.model
    return {
        "name": model.name,
        "model": model.name,
        "size": model.path.stat().st_size,
        "digest": digest(model),
        "details": details(model),
        "expires_at": _iso(loaded.expires_at) if loaded.expires_at else "0001-01-01T00:00:00Z",
        "size_vram": 0,
        "context_length": loaded.spec.context,
    }
