"""The MCP tools through the mcp SDK's own client, over stdio (``qa mcp``) and streamable HTTP (``/mcp``).

Both transports run the real thing: ``qa mcp`` as a subprocess over the seed
index, and the shared uvicorn ``server`` with its ``/mcp`` endpoint; a private
server with keys required shows /mcp behind the same key check and rate limit.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ROOT, SEED_ID, SEED_TEXT, Server

pytestmark = pytest.mark.slow

SEED_QUESTION = "What conditions did Russia set?"
KEY = "km-1a2b3c4d5e6f7081"
TOOLS = {"search", "ask", "get_document", "list_documents"}


async def exercise(client: Client) -> dict[str, Any]:
    """List the tools, ask the seed question, and read each citation's span back."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    ask_schema = tools["ask"].input_schema
    assert ask_schema["required"] == ["question"] and ask_schema["properties"]["question"]["type"] == "string"
    assert "citations" in tools["ask"].output_schema["properties"]

    result = await client.call_tool("ask", {"question": SEED_QUESTION})
    assert not result.is_error
    answer = result.structured_content
    assert answer["answered"] is True and "[1]" in answer["answer"]
    for cite in answer["citations"]:
        assert cite["doc_id"] == SEED_ID and SEED_TEXT[cite["start"] : cite["end"]] == cite["text"]
        span = await client.call_tool(
            "get_document", {"doc_id": cite["doc_id"], "start": cite["start"], "end": cite["end"]}
        )
        assert span.structured_content["text"] == cite["text"]
        assert span.structured_content["title"] == cite["title"]
    assert any("series of conditions" in c["text"] for c in answer["citations"])

    found = await client.call_tool("search", {"query": "missile strike on Sumy", "k": 2})
    results = found.structured_content["results"]
    assert 1 <= len(results) <= 2 and "Sumy" in results[0]["text"]

    missing = await client.call_tool("get_document", {"doc_id": "no-such-doc"})
    assert missing.is_error and "not_found" in missing.content[0].text
    empty = await client.call_tool("ask", {"question": ""})
    assert empty.is_error
    return answer


def test_stdio_tools_answer_with_citation_spans(seed_index: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "qa.cli", "mcp", "--index-dir", str(seed_index)],
        env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )

    async def run() -> None:
        with anyio.fail_after(120):
            async with Client(params) as client:
                answer = await exercise(client)
                listed = await client.call_tool("list_documents", {"limit": 5})
                assert listed.structured_content["documents"][0]["id"] == SEED_ID
                assert answer["backend"] == "extractive"

    anyio.run(run)


def test_streamable_http_tools_on_the_running_server(server: Server) -> None:
    async def run() -> None:
        with anyio.fail_after(60):
            async with Client(f"{server.url}/mcp") as client:
                await exercise(client)

    anyio.run(run)


@pytest.fixture(scope="module")
def keyed(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    index = tmp_path_factory.mktemp("mcp-keyed") / "index"
    shutil.copytree(seed_index, index)
    srv = Server(
        index,
        env={
            "QA_API_KEYS": KEY,
            "QA_REQUIRE_KEY_FOR_READS": "true",
            "QA_RATE_LIMIT_PER_MINUTE": "1",
            "QA_RATE_LIMIT_BURST": "6",
        },
    )
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_http_endpoint_needs_the_key_and_is_rate_limited(keyed: Server) -> None:
    refused = httpx.post(f"{keyed.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert refused.headers["www-authenticate"].startswith("Bearer")

    async def run() -> None:
        with anyio.fail_after(60):
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http,
                Client(streamable_http_client(f"{keyed.url}/mcp", http_client=http)) as client,
            ):
                result = await client.call_tool("ask", {"question": SEED_QUESTION})
                assert result.structured_content["answered"] is True

    anyio.run(run)
    # The session above took some of the burst of 6 (one token per POST); use up the rest.
    statuses = [
        httpx.post(
            f"{keyed.url}/mcp",
            headers={"X-API-Key": KEY, "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        ).status_code
        for _ in range(6)
    ]
    assert statuses[-1] == 429
