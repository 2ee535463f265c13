"""Keeps a child process (the embedded model server) running beside `wfhub serve`.

The child is restarted when it exits, after a back-off that grows while it keeps failing
(a missing model or a taken port must not become a busy loop) and resets once it has run
for a while. A health probe asks the child's `health_url` every `probe_interval` seconds;
once it has answered since its start (or `STARTUP_GRACE_SECONDS` after it, if it never did),
`MISSES_TO_RESTART` unanswered probes in a row (a hung server accepts connections and never
answers) get it killed and restarted. `restart()` does
the same on request, without the back-off. The child's output goes, line by line, into the
service's rotating log (this process is the file's one writer). Stopping terminates the
child, then kills it if it does not exit in time.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import IO, Any, Literal

import httpx

from wfhub.ops.logs import wrap_line

MAX_BACKOFF_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0
STOP_SECONDS = 10.0
MISSES_TO_RESTART = 3
# A busy server (llama.cpp's threads on every core) can take a second or two to answer even
# `/api/version`; a probe only counts as missed after this long.
PROBE_TIMEOUT_SECONDS = 5.0
STARTUP_GRACE_SECONDS = 120.0  # a child that never answered is given this long to come up
SupervisorState = Literal["starting", "running", "restarting", "backoff", "stopped"]


class ChildSupervisor:
    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        log: logging.Handler,
        health_url: str,
        probe_interval: float,
    ) -> None:
        self.command = command
        self.env = env
        self.health_url = health_url
        self.probe_interval = probe_interval
        self.restarts = 0
        self.state: SupervisorState = "starting"
        self.events: deque[dict[str, Any]] = deque(maxlen=50)
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._answered = False
        self._requested = threading.Event()
        self._stopping = threading.Event()
        self._wake = threading.Event()  # ends a back-off early (restart or stop)
        self._thread = threading.Thread(target=self._run, name="model-server", daemon=True)
        self._prober = threading.Thread(target=self._probe, name="model-probe", daemon=True)

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None or process.poll() is not None else process.pid

    def start(self) -> None:
        self._thread.start()
        self._prober.start()

    def _event(self, event: str, detail: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.events.append({"at": at, "event": event, "detail": detail})
        self._write(wrap_line("supervisor", f"{event}: {detail}"))

    def _write(self, line: str) -> None:
        record = logging.LogRecord("model-server", logging.INFO, "", 0, line, None, None)
        record.wfhub_line = line
        self._log.handle(record)

    def _copy_output(self, stream: IO[bytes]) -> None:
        for raw in stream:
            self._write(wrap_line("model-server", raw.decode("utf-8", "replace")))

    def _run(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            self._started_at, self._answered = time.monotonic(), False
            self.state = "starting"
            self._process = subprocess.Popen(
                self.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            self._event("started", f"pid {self._process.pid}")
            assert self._process.stdout is not None
            copier = threading.Thread(target=self._copy_output, args=(self._process.stdout,))
            copier.start()
            code = self._process.wait()
            copier.join(timeout=STOP_SECONDS)
            if self._stopping.is_set():
                self.state = "stopped"
                return
            self.restarts += 1
            cause = f"signal {-code}" if code < 0 else f"code {code}"
            if self._requested.is_set():
                self._requested.clear()
                self._event("exited", f"{cause}, restart requested")
                continue
            self._event("exited", cause)
            ran = time.monotonic() - self._started_at
            backoff = 1.0 if ran > HEALTHY_AFTER_SECONDS else backoff
            self.state = "backoff"
            self._wake.wait(backoff)
            self._wake.clear()
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _probe(self) -> None:
        misses = 0
        with httpx.Client(timeout=PROBE_TIMEOUT_SECONDS, trust_env=False) as client:
            while not self._stopping.wait(self.probe_interval):
                if self.pid is None:
                    misses = 0
                    continue
                try:
                    client.get(self.health_url).raise_for_status()
                except httpx.HTTPError as exc:
                    misses += 1
                    grace = time.monotonic() - self._started_at < STARTUP_GRACE_SECONDS
                    if misses >= MISSES_TO_RESTART and (self._answered or not grace):
                        self._event("hung", f"{misses} health probes unanswered ({exc!r})")
                        misses = 0
                        self._kill()
                    continue
                misses = 0
                self._answered = True
                if self.state == "starting":
                    self.state = "running"
                    self._event("ready", f"{self.health_url} answers")

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def restart(self) -> None:
        """Stop the child now; the run loop starts a new one at once (no back-off). Blocks
        until the old child has exited."""
        self.state = "restarting"
        self._event("restart", "requested")
        process = self._process
        if process is None or process.poll() is not None:
            self._wake.set()
            return
        self._requested.set()
        _end(process)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        process = self._process
        if process is not None and process.poll() is None:
            _end(process)
        for thread in (self._thread, self._prober):
            if thread.is_alive():
                thread.join(timeout=STOP_SECONDS)
        self._log.close()


def _end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `STOP_SECONDS`."""
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
