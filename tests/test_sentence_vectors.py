"""Sentence vectors stored at ingest: answering finds every sentence it scores already embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.answer.evidence import candidates
from qa.models.embedding import SentenceTransformerEmbedder
from tests.conftest import SEEDS, make_pipeline


def test_answers_find_every_scored_sentence_stored(
    seed_copy: Path, tmp_path: Path, embedder: SentenceTransformerEmbedder, store_kind: str
) -> None:
    if store_kind == "faiss":
        pipeline = make_pipeline(seed_copy, embedder)
    else:
        pipeline = make_pipeline(tmp_path / "milvus-index", embedder, store=store_kind)
        pipeline.ingest([SEEDS])
    question = "Is Putin open to talks on civilian infrastructure?"
    passages = pipeline.search(question)
    # The verifier and the extractive backend score single sentences (pairs only count as quotes).
    texts = [c.text for c in candidates(passages, pairs=False)]
    found = pipeline.store.sentence_vectors(texts)
    assert set(found) == set(texts)
    sample = texts[:5]
    fresh = embedder.embed(sample)
    assert all(float(found[t] @ fresh[i]) > 0.999 for i, t in enumerate(sample))
    answer = pipeline.ask(question)
    assert answer.answered and np.isfinite(answer.timings_ms["total_ms"])
