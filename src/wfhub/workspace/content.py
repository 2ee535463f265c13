"""What a file holds: text (with its encoding and language), an image, or other binary."""

from __future__ import annotations

import codecs
import mimetypes
from dataclasses import dataclass

from charset_normalizer import from_bytes

SNIFF_BYTES = 8192
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript",
    ".json": "json", ".md": "markdown", ".rst": "restructuredtext", ".html": "html",
    ".htm": "html", ".css": "css", ".scss": "scss", ".yml": "yaml", ".yaml": "yaml",
    ".toml": "toml", ".ini": "ini", ".cfg": "ini", ".sh": "shell", ".bash": "shell",
    ".zsh": "shell", ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".sql": "sql", ".xml": "xml",
    ".svg": "xml", ".lua": "lua", ".r": "r", ".pl": "perl", ".scala": "scala",
    ".dart": "dart", ".vue": "vue", ".svelte": "svelte", ".tf": "hcl", ".proto": "protobuf",
    ".txt": "plaintext", ".csv": "csv", ".dockerfile": "dockerfile",
}  # fmt: skip
_NAMES = {"Makefile": "makefile", "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake"}
_SHEBANGS = {"python": "python", "bash": "shell", "sh": "shell", "node": "javascript"}


@dataclass(frozen=True)
class Kind:
    name: str  # text | image | binary
    media_type: str


def detect_encoding(sample: bytes) -> str:
    """The encoding to decode a text file with (UTF-8 unless a BOM or the bytes say otherwise)."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:
            return "utf-8"  # a character cut by the end of the sample
    match = from_bytes(sample).best()
    return match.encoding if match is not None else "latin-1"


def kind_of(path: str, sample: bytes) -> Kind:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed is not None and guessed.startswith("image/") and guessed != "image/svg+xml":
        return Kind("image", guessed)
    if any(sample.startswith(bom) for bom, _ in _BOMS):
        return Kind("text", "text/plain; charset=utf-8")
    if b"\0" in sample:
        return Kind("binary", guessed or "application/octet-stream")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3 and from_bytes(sample).best() is None:
            return Kind("binary", guessed or "application/octet-stream")
    return Kind("text", "text/plain; charset=utf-8")


def language_of(path: str, sample: bytes) -> str:
    name = path.rsplit("/", 1)[-1]
    if name in _NAMES:
        return _NAMES[name]
    dot = name.rfind(".")
    if dot > 0 and (language := _LANGUAGES.get(name[dot:].lower())):
        return language
    if sample.startswith(b"#!"):
        interpreter = sample[2:80].split(b"\n", 1)[0].split(b"/")[-1].split(b" ")
        program = (
            interpreter[1] if interpreter[0] == b"env" and len(interpreter) > 1 else interpreter[0]
        )
        for prefix, language in _SHEBANGS.items():
            if program.decode(errors="replace").startswith(prefix):
                return language
    return "plaintext"


def media_type_for_download(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or "application/octet-stream"
