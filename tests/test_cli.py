"""The ``qa`` command as users run it: a real subprocess over a real index.

Each run loads torch (seconds), so the file keeps to ten subprocess runs; ingest's
exit statuses are covered in test_ingest.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.models.embedding import SentenceTransformerEmbedder
from qa.store import Store
from tests.conftest import ROOT, SEED_ID, SEED_TEXT
from tests.llm_fixtures import ctrl_c_enabled

pytestmark = pytest.mark.slow

QUESTION = "What did Peskov say about direct talks between Russia and Ukraine?"
SEED_TITLE = "Kremlin says Putin is open to discussing a halt to strikes on civilian infrastructure"


def run_qa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        cwd=ROOT,
        timeout=180,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def test_help_lists_the_commands() -> None:
    proc = ok(run_qa("--help"))
    for command in ("ingest", "search", "ask", "serve", "documents", "check"):
        assert command in proc.stdout


def test_search_prints_ranked_passages_with_title_and_span(seed_index: Path) -> None:
    proc = ok(
        run_qa(
            "search",
            "Is Putin open to talks on civilian infrastructure?",
            "-k",
            "3",
            "--index-dir",
            str(seed_index),
        )
    )
    heads = [line for line in proc.stdout.splitlines() if re.match(r"\d+\. ", line)]
    assert [h.split(".")[0] for h in heads] == ["1", "2", "3"]
    scores = []
    for head in heads:
        m = re.fullmatch(r"\d+\. \[(\d+\.\d+)\] (.+) \((\S+)\) chars (\d+)-(\d+)", head)
        assert m, head
        scores.append(float(m.group(1)))
        assert (m.group(2), m.group(3)) == (SEED_TITLE, SEED_ID)
        start, end = int(m.group(4)), int(m.group(5))
        # The printed passage is the article's text at that span (whitespace folded, cut at 400).
        body = proc.stdout.splitlines()[proc.stdout.splitlines().index(head) + 1].strip()
        assert body == " ".join(SEED_TEXT[start:end].split())[:400]
    assert scores == sorted(scores, reverse=True)


def test_search_json_parses(seed_index: Path) -> None:
    proc = ok(
        run_qa(
            "search",
            "Easter ceasefire",
            "-k",
            "2",
            "--mode",
            "bm25",
            "--json",
            "--index-dir",
            str(seed_index),
        )
    )
    passages = json.loads(proc.stdout)
    assert len(passages) == 2
    for p in passages:
        assert p["doc_id"] == SEED_ID and p["title"] == SEED_TITLE
        assert SEED_TEXT[p["start"] : p["end"]] == p["text"]
    assert any("Easter" in p["text"] for p in passages)


def test_ask_prints_the_answer_with_its_cited_passage(seed_index: Path) -> None:
    proc = ok(run_qa("ask", QUESTION, "--index-dir", str(seed_index)))
    lines = proc.stdout.splitlines()
    assert "no immediate plans for direct talks" in lines[0] and "[1]" in lines[0]
    cite = next(i for i, line in enumerate(lines) if line.startswith("[1] "))
    m = re.fullmatch(r"\[1\] (.+) \((\S+)\) chars (\d+)-(\d+)", lines[cite])
    assert m and (m.group(1), m.group(2)) == (SEED_TITLE, SEED_ID)
    quoted = SEED_TEXT[int(m.group(3)) : int(m.group(4))]
    assert lines[cite + 1].strip() == " ".join(quoted.split())
    assert "direct talks" in quoted


def test_ask_json_parses(seed_index: Path) -> None:
    proc = ok(run_qa("ask", QUESTION, "--json", "--index-dir", str(seed_index)))
    answer = json.loads(proc.stdout)
    assert answer["answered"] is True and answer["backend"] == "extractive"
    assert "[1]" in answer["answer"]
    [citation] = [c for c in answer["citations"] if c["n"] == 1]
    assert citation["doc_id"] == SEED_ID
    assert SEED_TEXT[citation["start"] : citation["end"]] == citation["text"]


def test_documents_list_and_show(seed_index: Path) -> None:
    # Global --index-dir: the nested `documents` subcommands don't accept it after them.
    listed = ok(run_qa("--index-dir", str(seed_index), "documents", "list"))
    [row] = listed.stdout.splitlines()
    doc_id, published, source, chunks, title = row.split("\t")
    assert (doc_id, published, source, title) == (SEED_ID, "-", "-", SEED_TITLE)
    assert re.fullmatch(r"\d+ chunks", chunks)
    assert "1 of 1 documents" in listed.stderr

    shown = ok(run_qa("--index-dir", str(seed_index), "documents", "show", SEED_ID))
    doc = json.loads(shown.stdout)
    assert doc["id"] == SEED_ID and doc["text"] == SEED_TEXT and doc["chunk_count"] == int(chunks.split()[0])


def test_documents_delete(seed_copy: Path, embedder: SentenceTransformerEmbedder) -> None:
    proc = ok(run_qa("--index-dir", str(seed_copy), "documents", "delete", SEED_ID))
    assert "deleted 1 document(s)" in proc.stdout
    index = Store(seed_copy, embedder)
    assert index.stats()["documents"] == 0 and index.stats()["chunks"] == 0
    assert index.check_consistency() == []


def test_check_passes_on_a_good_index(seed_index: Path) -> None:
    proc = ok(run_qa("check", "--index-dir", str(seed_index)))
    assert re.search(r"1 documents, \d+ chunks, generation \d+: consistent", proc.stdout)


def test_bad_setting_is_a_usage_error_naming_the_variable(seed_index: Path) -> None:
    proc = run_qa("search", "Putin", "--index-dir", str(seed_index), env={"QA_TOP_K": "abc"})
    assert proc.returncode == 2
    assert "QA_TOP_K" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.llm
def test_llm_server_command_passes_its_options_through(tmp_path: Path) -> None:
    import signal
    import time

    import httpx

    from tests.conftest import free_port

    port = free_port()
    log = tmp_path / "llm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "llm-server", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=ctrl_c_enabled,
        )
        try:
            deadline = time.monotonic() + 60
            # The banner is printed once it serves and Ctrl-C is handled.
            while "Ctrl-C" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()
    assert f"QA_LLM_API_BASE=http://127.0.0.1:{port}/v1" in log.read_text()
