"""A real ``qa serve`` process on a free 127.0.0.1 port: start it, poll ``/health`` until ready, stop it.

The one way tooling and tests run the service as a separate process: the test suite's
server fixtures (``tests/conftest.py``), ``qa bench``'s HTTP latency (:mod:`qa.tools.bench`)
and the load generator (:mod:`qa.tools.load`).  The server is ``python -m qa.cli serve``
with its settings in the environment; its output goes to a log file, read back by
:meth:`ServerProcess.output` when something goes wrong.

    with ServerProcess(index_dir, env={"QA_BACKEND": "extractive"}) as server:
        server.wait_ready()
        httpx.get(f"{server.url}/search", params={"q": "..."})
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

HOST = "127.0.0.1"
# Seconds between /health polls while the server loads its model and index.
POLL_INTERVAL_S = 0.2


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class ServerStartError(RuntimeError):
    """The server exited, or did not answer ``/health`` in time; the message ends with its log."""

    def __init__(self, reason: str, output: str) -> None:
        super().__init__(f"{reason}:\n{output}")
        self.reason = reason
        self.output = output


class ServerProcess:
    """``qa serve`` over ``index_dir`` in a child process, listening on 127.0.0.1.

    The process starts in the constructor; call :meth:`wait_ready` before sending requests
    and :meth:`stop` (or leave the ``with`` block) when done.

    Args:
        index_dir: the index the server serves (``QA_INDEX_DIR``).
        env: extra environment variables (settings) on top of this process's environment;
            they win over the defaults below.
        args: extra ``qa serve`` options.
        port: the port to listen on; default a free one.
        log: file for the server's stdout and stderr; default ``qa-server-PORT.log`` in the
            temporary directory, removed again by :meth:`stop`.
        cwd: working directory of the child (it imports ``qa`` from there first).

    The defaults set ``QA_HOST``, ``QA_PORT``, ``QA_INDEX_DIR`` and turn the rate limiter
    off (``QA_RATE_LIMIT_PER_MINUTE=0``): the callers send bursts of requests on purpose,
    and the limiter has tests of its own.
    """

    def __init__(
        self,
        index_dir: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        *,
        port: int | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = free_port() if port is None else port
        self.url = f"http://{HOST}:{self.port}"
        self._own_log = log is None
        self.log = log if log is not None else Path(tempfile.gettempdir()) / f"qa-server-{self.port}.log"
        full_env = {
            **os.environ,
            "QA_INDEX_DIR": str(index_dir),
            "QA_PORT": str(self.port),
            "QA_HOST": HOST,
            "QA_RATE_LIMIT_PER_MINUTE": "0",
            **(env or {}),
        }
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--log-level", "warning", *args],
            env=full_env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Poll ``/health`` until it answers 200.

        Raises:
            ServerStartError: the process exited first, or ``timeout`` seconds passed.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(f"qa serve exited with {self.proc.returncode}", self.output())
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(POLL_INTERVAL_S)
        raise ServerStartError(f"qa serve was not ready after {timeout:.0f}s", self.output())

    def output(self) -> str:
        """The last 5000 characters of the server's log."""
        self._log_handle.flush()
        return self.log.read_text("utf-8", "replace")[-5000:]

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit in 15 s); safe to call twice."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log_handle.close()
        if self._own_log:
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
