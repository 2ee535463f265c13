"""Agent hub overhead: a run's wall time minus the time it waited on the model.

Run: `python -m bench.agent [--steps N] [--model NAME]` (part of `make bench`).
1. Scripted: a real `wfhub serve` whose model is `tests/scripted_ollama.py` (answers at
   once) runs a task of N tool steps (reads, greps, lists, a shell command). Per step: the
   time between two consecutive model replies minus the second reply's model call (as the
   agent timed it, gateway included) is what the hub spent: the tool, the event rows, the
   checkpoint, the graph. Reported as p50/p95 in ms.
2. Embedded model: the same server with the embedded model (default the 1.5B catalogue
   model, which must be installed) on the small bug-fix task of `tests/test_agent_e2e.py`;
   overhead as a share of wall time (target <= 2 %), and the run's tokens.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from tests.agent_helpers import bug_repo, run_to_end
from tests.conftest import free_port
from tests.live_server import LiveServer, live_server, stop
from tests.ops_helpers import answers, wait_until

from wfhub.config import Settings
from wfhub.llm.catalog import CATALOG, DEFAULT_MODEL

STEPS = [
    ("read_file", {"path": "calc.py"}),
    ("grep", {"pattern": "return"}),
    ("list_files", {"path": "."}),
    ("run_command", {"command": "python3 -c 'print(1)'"}),
    ("glob", {"pattern": "*.py"}),
    ("git_status", {}),
]


def step_overheads(hub: LiveServer, run_id: int) -> tuple[list[float], float, float]:
    """Per-step hub time (s), the run's wall time and its model time, from the ledger: a
    row is written when its request ends, so the hub's time between two model calls is the
    next one's end minus its duration minus the previous one's end."""
    headers = {"Authorization": f"Bearer {hub.token}"}
    with httpx.Client(base_url=hub.url, headers=headers) as client:
        summary = client.get(f"/runs/{run_id}").json()
        rows = client.get("/llm/requests", params={"run_id": run_id, "limit": 500}).json()
    times = sorted(
        (datetime.fromisoformat(r["created_at"]), r["total_ms"] / 1000) for r in rows["items"]
    )
    gaps = [
        (later - earlier).total_seconds() - waited
        for (earlier, _), (later, waited) in itertools.pairwise(times)
    ]
    wall = (
        datetime.fromisoformat(summary["finished_at"])
        - datetime.fromisoformat(summary["started_at"])
    ).total_seconds()
    return gaps, wall, float(summary["llm_seconds"])


def scripted(folder: Path, steps: int) -> None:
    port = free_port()
    model = subprocess.Popen([sys.executable, "-m", "tests.scripted_ollama", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(url), what="the scripted model")
        replies: list[dict[str, Any]] = [{"content": "plan"}]
        for i in range(steps):
            name, args = STEPS[i % len(STEPS)]
            if name == "grep":  # vary it, or the stuck detector would (rightly) stop the run
                args = {"pattern": "return" if i % 2 else "add"}
            replies.append(
                {
                    "content": "",
                    "tool_calls": [{"function": {"name": name, "arguments": {**args, "_step": i}}}],
                }
            )
        replies.append({"content": "done"})
        httpx.post(f"{url}/_script", json={"model": "bench", "replies": replies})
        home = folder / "scripted"
        with live_server(home, f"sqlite:///{folder / 'scripted.db'}", ollama_urls=url) as hub:
            with httpx.Client(
                base_url=hub.url, headers={"Authorization": f"Bearer {hub.token}"}, timeout=60
            ) as api:
                task_id = bug_repo(api, "bench")
                summary = run_to_end(
                    api, task_id, {"model": "bench", "options": {"max_iterations": steps + 5}}
                )
            time.sleep(1)  # the ledger writes in batches
            gaps, wall, llm = step_overheads(hub, summary["id"])
        ordered = sorted(gaps)
        p50 = statistics.median(ordered) * 1000
        p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000
        print(
            f"scripted run: {summary['status']}, {len(gaps)} steps, wall {wall:.2f} s, "
            f"model {llm:.2f} s; hub overhead per step p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )
    finally:
        stop(model)


def embedded(folder: Path, model: str) -> None:
    entry = CATALOG[model]
    installed = Settings(_env_file=None).models_dir / entry.file_name
    if not installed.exists():
        print(f"embedded run skipped: {model} is not installed (wfhub llm install {model})")
        return
    home = folder / "embedded"
    (home / "models").mkdir(parents=True)
    (home / "models" / installed.name).symlink_to(installed)
    marker = installed.with_name(installed.name + ".verified")
    (home / "models" / marker.name).symlink_to(marker)
    with live_server(
        home, f"sqlite:///{folder / 'embedded.db'}", default_model=model, llm_port=str(free_port())
    ) as hub:
        headers = {"Authorization": f"Bearer {hub.token}"}
        with httpx.Client(base_url=hub.url, headers=headers, timeout=60) as api:
            wait_until(
                lambda: api.get("/ollama/status").json()["service_status"] == "healthy",
                300,
                "the embedded model",
            )
            task_id = bug_repo(api, "bench-e2e")
            summary = run_to_end(
                api,
                task_id,
                {"options": {"check_command": "python3 -m unittest -q", "max_iterations": 12}},
            )
        time.sleep(1)
        _, wall, llm = step_overheads(hub, summary["id"])
    share = (wall - llm) / wall * 100
    print(
        f"embedded run ({model}): {summary['status']} ({summary.get('error') or 'ok'}), "
        f"wall {wall:.1f} s, model {llm:.1f} s, hub overhead {share:.2f} % of wall time, "
        f"tokens {summary['prompt_tokens']} prompt + {summary['completion_tokens']} "
        f"completion"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scripted(Path(scratch), args.steps)
        embedded(Path(scratch), args.model)


if __name__ == "__main__":
    main()
