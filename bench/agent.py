"""Agent hub overhead: a run's wall time minus the time it waited on the model.

Run: `python -m bench.agent [--steps N] [--model NAME] [--runs N] [--engines native,aider]`
(part of `make bench`).
1. Scripted: a real `wfhub serve` whose model is `tests/scripted_ollama.py` (answers at
   once) runs a task of N tool steps (reads, greps, lists, a shell command). Per step: the
   time between two consecutive model replies minus the second reply's model call (as the
   agent timed it, gateway included) is what the hub spent: the tool, the event rows, the
   checkpoint, the graph. Reported as p50/p95 in ms.
2. Embedded model: the same server with the embedded model (default the 1.5B catalogue
   model, which must be installed) on the small bug-fix task of `tests/test_agent_e2e.py`,
   N runs per engine (the native agent, and Aider when `wfhub engines install aider` was
   run): the solve rate of each on the same model and task, and per run the share of wall
   time not spent waiting on the model (for the native engine that is the hub's overhead,
   target <= 2 %; for Aider it includes Aider's own work), and the tokens.
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
from tests.agent_helpers import CHECK, bug_repo, embedded_hub, installed_model, run_to_end
from tests.conftest import free_port
from tests.live_server import LiveServer, live_server, stop
from tests.ops_helpers import answers, wait_until

from wfhub.config import Settings
from wfhub.llm.catalog import DEFAULT_MODEL

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


def embedded(folder: Path, model: str, runs: int, engines: list[str]) -> None:
    """`runs` runs of the bug-fix task per engine on one hub: the solve rate, and per run
    the wall time, the model's share of it and the tokens."""
    if runs == 0:
        return
    if not installed_model(model).exists():
        print(f"embedded runs skipped: {model} is not installed (wfhub llm install {model})")
        return
    engines_dir = str(Settings(_env_file=None).engines_dir)
    with (
        embedded_hub(folder / "embedded", model, engines=engines_dir) as hub,
        hub.client() as api,
    ):
        for engine in engines:
            results = []
            for number in range(runs):
                task_id = bug_repo(api, f"bench-{engine}-{number}")
                body = {"engine": engine, "options": {"check_command": CHECK}}
                summary = run_to_end(api, task_id, body)
                time.sleep(1)  # the ledger writes in batches
                _, wall, llm = step_overheads(hub, summary["id"])
                results.append((summary, wall, llm))
                print(
                    f"  {engine} run {number + 1}: {summary['status']} "
                    f"({(summary.get('error') or 'ok')[:80]!r}), wall {wall:.1f} s, model "
                    f"{llm:.1f} s, overhead {(wall - llm) / wall * 100:.2f} %, tokens "
                    f"{summary['prompt_tokens']} + {summary['completion_tokens']}",
                    flush=True,
                )
            report(model, engine, results)


def report(model: str, engine: str, results: list[tuple[dict[str, Any], float, float]]) -> None:
    solved = sum(1 for summary, _, _ in results if summary["status"] == "succeeded")
    walls = [wall for _, wall, _ in results]
    shares = [(wall - llm) / wall * 100 for _, wall, llm in results]
    tokens = [s["prompt_tokens"] + s["completion_tokens"] for s, _, _ in results]
    print(
        f"embedded {model}, engine {engine}: solved {solved}/{len(results)}; median wall "
        f"{statistics.median(walls):.1f} s, median non-model share "
        f"{statistics.median(shares):.2f} % (max {max(shares):.2f} %), median tokens "
        f"{statistics.median(tokens):.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=10, help="bug-fix runs per engine")
    parser.add_argument("--engines", default="native,aider", help="comma-separated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scripted(Path(scratch), args.steps)
        embedded(Path(scratch), args.model, args.runs, args.engines.split(","))


if __name__ == "__main__":
    main()
