"""Workspace speed as ratios in one run (issue 4), against a real `wfhub serve`.

Run: `make bench` (or `python -m bench.workspace [--files N] [--samples K]`).
Generates a synthetic repository with ~80,000 tracked files and a 100-file one, then:
- listing one directory (50 entries): p95 in the big repository, and its ratio to the same
  listing in the small one (target <= 50 ms and <= 2x);
- `GET .../git/status` against raw `git status --porcelain=v2` on the big repository
  (target <= 1.2x, medians);
- `GET .../search` against raw `rg` for the same literal query (target <= 1.5x, medians).
Requests and raw commands are interleaved so drift in the machine's speed hits both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.live_server import live_server

IDENT = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def make_repo(root: Path, files: int) -> None:
    """`files` small Python files, 50 a directory, committed."""
    per_dir = 50
    for i in range(files):
        directory = root / f"pkg{i // (per_dir * 40):03d}" / f"mod{(i // per_dir) % 40:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"file{i % per_dir:02d}.py").write_text(
            f"def f{i}():\n    return {i}\n# token_{i}\n"
        )
    subprocess.run(["git", "init", "-q", "--initial-branch=main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", *IDENT, "commit", "-qm", "init"], cwd=root, check=True)
    subprocess.run(["git", "status"], cwd=root, check=True, capture_output=True)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=80_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        workspaces = home / "workspaces"
        for name, count in (("big", args.files), ("small", 100)):
            (workspaces / name).mkdir(parents=True)
            make_repo(workspaces / name, count)
        with live_server(home, f"sqlite:///{tmp}/bench.db") as server:
            headers = {"Authorization": f"Bearer {server.token}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
                ids = {}
                for name in ("big", "small"):
                    made = client.post("/projects", json={"name": name, "workspace_path": name})
                    ids[name] = made.json()["id"]
                big_root = workspaces / "big"

                def listing(name: str) -> Callable[[], object]:
                    url = f"/workspace/{ids[name]}/files"
                    return lambda: client.get(
                        url, params={"path": "pkg000/mod01"}
                    ).raise_for_status()

                for name in ("big", "small"):
                    listing(name)()  # first listing takes the status snapshot
                samples: dict[str, list[float]] = {
                    k: [] for k in ("big", "small", "status", "git", "search", "rg")
                }
                status_url = f"/workspace/{ids['big']}/git/status"
                search_url = f"/workspace/{ids['big']}/search"
                query = "token_7777"
                for i in range(args.samples):
                    samples["big"].append(timed(listing("big")))
                    samples["small"].append(timed(listing("small")))
                    if i % 4 == 0:
                        samples["status"].append(
                            timed(lambda: client.get(status_url).raise_for_status())
                        )
                        samples["git"].append(
                            timed(
                                lambda: subprocess.run(
                                    ["git", "status", "--porcelain=v2", "--branch", "-z"],
                                    cwd=big_root,
                                    check=True,
                                    capture_output=True,
                                )
                            )
                        )
                        samples["search"].append(
                            timed(
                                lambda: client.get(
                                    search_url, params={"q": query, "case": "sensitive"}
                                ).raise_for_status()
                            )
                        )
                        samples["rg"].append(
                            timed(
                                lambda: subprocess.run(
                                    ["rg", "--fixed-strings", "--case-sensitive", query],
                                    cwd=big_root,
                                    capture_output=True,
                                    check=True,
                                )
                            )
                        )
    big95, small95 = percentile(samples["big"], 0.95), percentile(samples["small"], 0.95)
    med = {k: statistics.median(v) for k, v in samples.items()}
    rows = [
        ("list one directory, p95", big95, small95, "100-file repo", "<= 50 ms, <= 2x"),
        ("git status, median", med["status"], med["git"], "raw git", "<= 1.2x"),
        ("search, median", med["search"], med["rg"], "raw rg", "<= 1.5x"),
    ]
    print(f"### workspace ({args.files:,} files vs 100)\n")
    print("| measure | wfhub | baseline | ratio | target |\n|---|---:|---:|---:|---|")
    for label, ours, base, what, target in rows:
        print(
            f"| {label} | {ours:.1f} ms | {base:.1f} ms ({what}) | {ours / base:.2f}x | {target} |"
        )


if __name__ == "__main__":
    main()
