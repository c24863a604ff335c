"""The OpenAI-compatible endpoint, through the official ``openai`` client against real servers.

The shared ``server`` (seed index, no keys, no rate limit) answers the plain,
streamed, multi-turn and declined conversations; one private server with keys
required for reads and a burst of 2 shows the unauthorised and rate-limited
refusals in OpenAI's error shape.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from qa.server.openai_compat import ChatMessageIn, render_content, split_messages, strip_sources
from qa.server.schemas import AnswerPublic
from tests.conftest import SEED_ID, SEED_TEXT, Server

KEY = "ko-5e6f7a8b9c0d1e2f"
SPARE = "ko-0f1e2d3c4b5a6978"
SEED_QUESTION = "What conditions did Russia set?"


def client(srv: Server, key: str = "not-needed") -> OpenAI:
    # max_retries=0: the client would otherwise retry a 429 after Retry-After, hiding it.
    return OpenAI(base_url=f"{srv.url}/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def guarded(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Keys required for reads, a burst of 2 requests per key, a 4 KiB body limit."""
    index = tmp_path_factory.mktemp("openai-guarded") / "index"
    shutil.copytree(seed_index, index)
    srv = Server(
        index,
        env={
            "QA_API_KEYS": f"{KEY},{SPARE}",
            "QA_REQUIRE_KEY_FOR_READS": "true",
            "QA_RATE_LIMIT_PER_MINUTE": "2",
            "QA_RATE_LIMIT_BURST": "2",
            "QA_MAX_BODY_BYTES": "4096",
        },
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.mark.slow
def test_plain_completion_has_markers_sources_and_structured_citations(server: Server) -> None:
    completion = client(server).chat.completions.create(
        model="qa", messages=[{"role": "user", "content": SEED_QUESTION}]
    )
    assert completion.object == "chat.completion" and completion.model == "qa"
    content = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    assert "[1]" in content and "conditions" in content
    assert "\n\nSources:\n[1] Kremlin says Putin is open" in content
    qa = completion.model_extra["qa"]
    assert qa["answered"] is True and qa["backend"] == "extractive"
    cite = qa["citations"][0]
    assert cite["doc_id"] == SEED_ID and SEED_TEXT[cite["start"] : cite["end"]] == cite["text"]
    assert content.startswith(qa["answer"])


@pytest.mark.slow
def test_streamed_completion_ends_with_citations_and_done(server: Server) -> None:
    stream = client(server).chat.completions.create(
        model="qa", messages=[{"role": "user", "content": SEED_QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "[1]" in text and "Sources:" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["qa"]["citations"][0]["doc_id"] == SEED_ID
    assert text == render_content(AnswerPublic.model_validate(last.model_extra["qa"]))
    # The raw wire format ends with OpenAI's terminator.
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json={"model": "qa", "stream": True, "messages": [{"role": "user", "content": SEED_QUESTION}]},
        timeout=60,
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    assert body.rstrip().endswith("data: [DONE]")


@pytest.mark.slow
def test_multi_turn_condenses_the_follow_up(server: Server) -> None:
    api = client(server)
    first = api.chat.completions.create(
        model="qa",
        messages=[{"role": "user", "content": "How many people were killed in the missile strike on Sumy?"}],
    )
    reply = first.choices[0].message.content or ""
    follow_up = api.chat.completions.create(
        model="qa",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "How many people were killed in the missile strike on Sumy?"},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": [{"type": "text", "text": "And what did Russia claim it hit?"}]},
        ],
    )
    qa = follow_up.model_extra["qa"]
    standalone = qa["standalone_question"]
    assert standalone.startswith("And what did Russia claim it hit?") and "Sumy" in standalone
    assert "Sources:" not in standalone  # the earlier reply's Sources list was cut before condensing
    assert qa["answered"] is True
    assert any("meeting of Ukrainian military officers" in c["text"] for c in qa["citations"])


@pytest.mark.slow
def test_declined_answer_is_an_ordinary_reply(server: Server) -> None:
    completion = client(server).chat.completions.create(
        model="extractive",
        messages=[{"role": "user", "content": "Who won the 2024 Eurovision Song Contest?"}],
    )
    content = completion.choices[0].message.content or ""
    assert "don't say" in content and "Sources:" not in content
    assert completion.model_extra["qa"]["answered"] is False
    assert completion.model_extra["qa"]["citations"] == []


@pytest.mark.slow
def test_models_list_and_unknown_model(server: Server) -> None:
    api = client(server)
    ids = [m.id for m in api.models.list()]
    assert ids[0] == "qa" and "extractive" in ids
    with pytest.raises(openai.NotFoundError) as info:
        api.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SEED_QUESTION}])
    error = info.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model" and "gpt-4o" in error["message"]


@pytest.mark.slow
def test_bad_requests_get_openai_shaped_422s(server: Server) -> None:
    api = client(server)
    with pytest.raises(openai.UnprocessableEntityError) as info:
        api.chat.completions.create(model="qa", messages=[{"role": "assistant", "content": "Hello"}])
    assert (
        info.value.body["type"] == "invalid_request_error" and "user's question" in info.value.body["message"]
    )
    r = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "qa", "messages": []}, timeout=30)
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and r.json()["error"]["code"] == "invalid_request"


@pytest.mark.slow
def test_unauthorised_clients_get_401_in_openai_shape(guarded: Server) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        client(guarded, "wrong-key").chat.completions.create(
            model="qa", messages=[{"role": "user", "content": SEED_QUESTION}]
        )
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error" and info.value.body["code"] == "unauthorized"
    assert info.value.response.headers["www-authenticate"].startswith("Bearer")
    # The key goes in the standard place (Authorization: Bearer) and is accepted there.
    assert next(m.id for m in client(guarded, KEY).models.list()) == "qa"


@pytest.mark.slow
def test_rate_limit_and_body_limit_apply(guarded: Server) -> None:
    api = client(guarded, SPARE)
    messages = [{"role": "user", "content": SEED_QUESTION}]
    for _ in range(2):
        assert api.chat.completions.create(model="qa", messages=messages).choices[0].message.content
    with pytest.raises(openai.RateLimitError) as info:
        api.chat.completions.create(model="qa", messages=messages)
    assert info.value.body["type"] == "rate_limit_error" and info.value.body["code"] == "rate_limited"
    assert int(info.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.APIStatusError) as big:
        client(guarded, KEY).chat.completions.create(
            model="qa", messages=[{"role": "user", "content": "x" * 5000}]
        )
    assert big.value.status_code == 413 and big.value.body["code"] == "payload_too_large"


def test_split_messages_drops_system_turns_and_earlier_sources() -> None:
    messages = [
        ChatMessageIn(role="system", content="Be brief."),
        ChatMessageIn(role="user", content="What happened in Sumy?"),
        ChatMessageIn(
            role="assistant", content="A strike killed 35 people [1].\n\nSources:\n[1] Sumy (Wire)"
        ),
        ChatMessageIn(role="user", content="Who condemned it?"),
    ]
    question, history = split_messages(messages)
    assert question == "Who condemned it?"
    assert [t.role for t in history] == ["user", "assistant"]
    assert history[1].content == "A strike killed 35 people [1]."
    assert strip_sources("no list here") == "no list here"
