"""The guards between a small model and the files it changes (`agent/edits.py`), and the
files an engine is given to edit (`agent/prompts.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfhub.agent.edits import breaks_python, locate
from wfhub.agent.prompts import TaskBrief, files_in_play

pytestmark = pytest.mark.filesystem


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "calc.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "mod.py").write_text("y = 2\n")
    return tmp_path


def test_paths_as_written_when_they_exist_or_make_sense(root: Path) -> None:
    assert locate(root, "calc.py") == ("calc.py", "")
    assert locate(root, "./pkg//mod.py") == ("./pkg//mod.py", "")
    assert locate(root, "pkg/new.py", creating=True) == ("pkg/new.py", "")  # folder exists
    assert locate(root, "other/new.py", creating=True) == ("other/new.py", "")  # no such name
    assert locate(root, "missing.py") == ("missing.py", "")  # the operation says it is missing
    assert locate(root, "../calc.py") == ("../calc.py", "")  # refused later, never rewritten


def test_invented_folders_and_the_absolute_root_are_dropped(root: Path) -> None:
    assert locate(root, "path/to/repo/calc.py") == (
        "calc.py",
        " (there is no path/to/repo/calc.py; used calc.py)",
    )
    assert locate(root, "repo/pkg/mod.py", creating=True)[0] == "pkg/mod.py"
    assert locate(root, f"{root}/pkg/mod.py") == ("pkg/mod.py", "")
    assert locate(root, "/elsewhere/calc.py")[0] == "calc.py"


def test_a_change_that_breaks_python_is_refused() -> None:
    before = "def add(a, b):\n    return a - b\n"
    broken = "def add(a, b):\n    return a + b\n(a, b):\n    return a - b\n"
    refused = breaks_python("calc.py", before, broken)
    assert refused is not None
    assert refused.startswith("error: not applied")
    assert "line 3" in refused
    assert "    2      return a - b" in refused
    assert breaks_python("calc.py", before, "def add(a, b):\n    return a + b\n") is None
    assert breaks_python("notes.txt", before, broken) is None  # not Python
    assert breaks_python("calc.py", "def (:\n", broken) is None  # was broken already
    assert breaks_python("calc.py", "type X = int\n", "type X = (\n") is None  # newer syntax
    assert breaks_python("calc.py", None, broken) is None  # not text
    deep = "x = " + "a+" * 5_000 + "a\n"  # RecursionError in the parser, not SyntaxError
    assert "nested too deeply" in str(breaks_python("calc.py", before, deep))
    assert breaks_python("calc.py", deep, broken) is None  # unreadable before: no judgement
    large = before + "# padding\n" * 7_000  # over JUDGED_CHARS: not parsed on the loop
    assert breaks_python("calc.py", large, large + "(\n") is None
    assert breaks_python("calc.py", before, before + "(\n") is not None


def test_files_an_engine_starts_with(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    (small / "calc.py").write_text("x = 1\n")
    (small / "test_calc.py").write_text("y = 2\n")
    assert files_in_play(small, TaskBrief("Fix it", "")) == ["calc.py", "test_calc.py"]
    large = tmp_path / "large"
    for folder in ("src/app", "src/lib", "docs"):
        (large / folder).mkdir(parents=True)
    big = "# padding\n" * 1000  # past the size shown whole
    for path in ("src/app/views.py", "src/lib/views.py", "src/app/models.py", "docs/data.md"):
        (large / path).write_text(big)
    brief = TaskBrief(
        "Slow page",
        "models.py loads every row; see src/lib/views.py too. Not a.md.",
        criteria=["views.py stays as it is"],  # two files have that name: not a guess
    )
    assert files_in_play(large, brief) == ["src/app/models.py", "src/lib/views.py"]
