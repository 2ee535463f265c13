"""Keeps a child process (the embedded model server) running beside `wfhub serve`.

The child is restarted when it exits, after a back-off that grows while it keeps failing
(a missing model or a taken port must not become a busy loop) and resets once it has run
for a while. Stopping terminates it, then kills it if it does not exit in time.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

MAX_BACKOFF_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0
STOP_SECONDS = 10.0


class ChildSupervisor:
    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-server", daemon=True)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
                )
            self._process.wait()
            if self._stopping.is_set():
                return
            self.restarts += 1
            backoff = 1.0 if time.monotonic() - started > HEALTHY_AFTER_SECONDS else backoff
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_SECONDS)
