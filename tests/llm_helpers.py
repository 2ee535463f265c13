"""The test model and a real `wfhub llm serve` process serving it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port
from tests.live_server import server_env, wfhub_process
from wfhub.config import Settings
from wfhub.llm.catalog import CATALOG, TEST_MODEL
from wfhub.llm.install import is_installed, marker_path

TEST_MODEL_ENTRY = CATALOG[TEST_MODEL]


def installed_test_model() -> Path:
    """The verified test model `make test` installs into the default data dir."""
    path = Settings(_env_file=None).models_dir / TEST_MODEL_ENTRY.file_name
    if not is_installed(path, TEST_MODEL_ENTRY):
        raise RuntimeError(
            f"the test model is not at {path}: run `make test-model` "
            f"(wfhub llm install {TEST_MODEL}) first"
        )
    return path


def link_test_model(home: Path) -> None:
    """Make the test model available in `home` without copying half a gigabyte."""
    source = installed_test_model()
    models = home / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / source.name).symlink_to(source)
    (models / marker_path(source).name).symlink_to(marker_path(source))


@contextmanager
def model_server(home: Path, **settings: str) -> Iterator[str]:
    """`wfhub llm serve` on a free port with the test model; yields its URL."""
    link_test_model(home)
    port = free_port()
    env = server_env(home, f"sqlite:///{home / 'unused.db'}", free_port())
    env.update(WFHUB_LLM_PORT=str(port), **{f"WFHUB_{k.upper()}": v for k, v in settings.items()})
    url = f"http://127.0.0.1:{port}"
    log_path = home.parent / f"llm-{port}.log"
    with wfhub_process(["llm", "serve"], env, log_path, f"{url}/api/version"):
        yield url
