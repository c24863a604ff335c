"""`qa bench` end to end on a tiny corpus: it must keep producing its figures (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_ID, SEED_TEXT

pytestmark = pytest.mark.slow


def test_bench_prints_ratio_and_latencies(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    articles = [
        {
            "id": SEED_ID,
            "title": "Kremlin",
            "source": "Seed",
            "published_at": "2025-04-22",
            "url": "",
            "text": SEED_TEXT,
        },
        {
            "id": "bridge",
            "title": "Bridge",
            "source": "Local",
            "published_at": "2025-04-20",
            "url": "",
            "text": "The mayor announced a new bridge. It opens in May. Critics said it costs too much.",
        },
    ]
    corpus.write_text("".join(json.dumps(a) + "\n" for a in articles))
    questions = tmp_path / "qa.jsonl"
    questions.write_text(
        json.dumps({"id": "q1", "question": "What conditions did Russia set?", "question_date": "2025-04-23"})
        + "\n"
        + json.dumps({"id": "q2", "question": "When does the bridge open?"})
        + "\n"
    )
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "bench", "--corpus", str(corpus), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ratio raw encode / qa ingest, same work" in result.stdout
    figures = json.loads((out / "bench.json").read_text())
    assert figures["ingest"]["articles"] == 2 and figures["ingest"]["chunks"] >= 2
    assert figures["ingest"]["ratio_ingest_to_raw"] > 0
    assert figures["http"]["questions"] == 2 and figures["http"]["errors"] == 0
    assert figures["http"]["ask_p50_ms"] > 0
    assert "<img" in (out / "bench.html").read_text()


def test_scale_bench_and_report_produce_their_figures(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"id": SEED_ID, "title": "Kremlin", "text": SEED_TEXT, "published_at": "2025-04-22"})
        + "\n"
    )
    (tmp_path / "qa.jsonl").write_text(json.dumps({"question": "Is Putin open to talks?"}) + "\n")
    out = tmp_path / "out"
    args = ["--corpus", str(corpus), "--sizes", "300", "--questions", "1", "--pool", "4", "--out", str(out)]
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/bench_scale.py"), *args], check=True, capture_output=True
    )
    scale = json.loads((out / "scale.json").read_text())
    [row] = scale["sizes"]
    assert row["chunks"] >= 300 and row["recall_at_10"] == 1.0 and row["add_ms_p50"] > 0
    kinds = {r["index"].split(",")[0].rstrip("0123456789") for r in scale["ann"]}
    assert kinds == {"flat", "hnsw", "ivf"} and row["kind"] == "flat" and row["cold_open"]["kind"] == "flat"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/bench_report.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert "<h2>Scale</h2>" in (out / "bench.html").read_text()
