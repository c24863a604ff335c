"""Sentence-pair vectors stored off the request path: /ask finds every candidate's vector stored."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from qa.answer.verify import candidates
from qa.ingest.chunk import sentence_spans
from qa.models.embedding import SentenceTransformerEmbedder
from qa.store.index import ChunkIndex
from qa.types import Article
from tests.conftest import make_pipeline


def test_warm_pairs_stores_every_candidate_pair_once(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    # A fresh index: the shared seed index may have had its pairs stored by a server under test.
    fresh_dir = tmp_path / "index"
    make_pipeline(fresh_dir, embedder).ingest([Path(__file__).resolve().parent.parent / "seeds"])
    index = ChunkIndex(fresh_dir, embedder)
    assert index.pairs_pending() == index.snapshot().size
    index.warm_pairs(background=False)
    assert index.pairs_pending() == 0
    rows = index._conn().execute("SELECT text FROM chunks").fetchall()
    pairs = [t[a[0] : b[1]] for (t,) in rows for a, b in itertools.pairwise(sentence_spans(t))]
    stored = index.sentence_vectors(pairs)
    assert set(stored) == set(pairs)
    sample = pairs[:5]
    fresh = embedder.embed(sample)
    assert all(float(stored[p] @ fresh[i]) > 0.999 for i, p in enumerate(sample))

    # A later write leaves only its own chunks pending; a second pass is a no-op for the rest.
    index.upsert([Article("doc-p", "The ferry resumed service. Crowds came back. The mayor spoke.", "Ferry")])
    assert index.pairs_pending() == 1
    index.warm_pairs(background=False)
    assert index.pairs_pending() == 0


def test_answers_need_no_embedding_once_pairs_are_stored(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    pipeline = make_pipeline(seed_copy, embedder)
    pipeline.index.warm_pairs(background=False)
    question = "Is Putin open to talks on civilian infrastructure?"
    passages = pipeline.search(question)
    texts = [c.text for c in candidates(passages)]
    found = pipeline.index.sentence_vectors(texts)
    assert set(found) == set(texts)
    answer = pipeline.ask(question)
    assert answer.answered and np.isfinite(answer.timings_ms["total_ms"])
