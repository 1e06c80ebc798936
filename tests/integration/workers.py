"""A real Celery worker for the tests: a separate process group, killable with SIGKILL like a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 2) -> None:
        self._env = env
        self._log_path = log
        self._concurrency = concurrency
        self._process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> WorkerProcess:
        self._log = self._log_path.open("a")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--concurrency", str(self._concurrency)],
            env=self._env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def kill(self) -> None:
        """SIGKILL to the worker and its pool children at once: no acknowledgement, no cleanup."""
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._log.close()

    def pause(self) -> None:
        """SIGSTOP to the worker and its pool: it takes no task until resume(), whatever the machine's speed."""
        os.killpg(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self._process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        if self._log is not None and not self._log.closed:
            self._log.close()

    def log(self) -> str:
        return self._log_path.read_text()[-3000:]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
