"""Which models the embedded server can load: installed catalogue models and a user's GGUF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wfhub.config import Settings
from wfhub.errors import ModelNotFound
from wfhub.llm.catalog import CATALOG, CatalogModel, lookup
from wfhub.llm.install import check_gguf, verify


@dataclass(frozen=True)
class LocalModel:
    name: str
    path: Path
    catalog: CatalogModel | None  # None for a GGUF given by WFHUB_LLM_MODEL_PATH

    def check(self) -> None:
        """Raise `ModelFileError` when the file is missing, partial or corrupt."""
        if self.catalog is None:
            check_gguf(self.path)
        else:
            verify(self.path, self.catalog)


def local_models(settings: Settings) -> dict[str, LocalModel]:
    """Models whose files are present, by name; the user's GGUF first when configured."""
    found: dict[str, LocalModel] = {}
    if settings.llm_model_path is not None:
        path = settings.llm_model_path.expanduser().resolve()
        name = path.name.removesuffix(".gguf")
        found[name] = LocalModel(name, path, None)
    for model in CATALOG.values():
        path = settings.models_dir / model.file_name
        if path.exists():
            found[model.name] = LocalModel(model.name, path, model)
    return found


def resolve(settings: Settings, name: str) -> LocalModel:
    """The local model a request names; `ModelNotFound` when it is not installed."""
    models = local_models(settings)
    if name in models:
        return models[name]
    catalogued = lookup(name)
    if catalogued is not None and catalogued.name in models:
        return models[catalogued.name]
    if catalogued is not None:
        raise ModelNotFound(
            f"model {name!r} is not installed: run `wfhub llm install {catalogued.name}`"
        )
    known = ", ".join(models) or "none installed"
    raise ModelNotFound(f"model {name!r} not found (available: {known})")
