"""Sentence vectors stored at ingest: answering finds every sentence it scores already embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.answer.evidence import candidates
from qa.models.embedding import SentenceTransformerEmbedder
from tests.conftest import SEEDS, embedded_texts, make_pipeline


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


def test_answering_embeds_no_word_the_ingest_stored(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """The lemmas the predicate checks compare are embedded at ingest: a question embeds only itself."""
    pipeline = make_pipeline(seed_copy, embedder)
    pipeline.ingest([SEEDS])  # re-ingest of unchanged articles fills the word table of an older index
    stored = pipeline.words.count()
    assert stored > 100
    vectors = pipeline.words.get_many(["ceasefire", "strike", "declare"])
    assert set(vectors) == {"ceasefire", "strike", "declare"}
    fresh = embedder.embed(["ceasefire"])[0]
    assert float(vectors["ceasefire"] @ fresh) > 0.999  # float16 storage keeps the vector
    question = "What conditions did Russia set for a ceasefire?"
    with embedded_texts(pipeline) as live:
        answer = pipeline.ask(question)
    assert answer.answered
    # Only the question reaches the model (the retriever and the answerer share its vector),
    # and of single words at most the question's own the articles never use (written back).
    assert live[0] == [question]
    asked = pipeline.annotator.annotate([question])[0].lemmas
    words = {t for batch in live[1:] for t in batch}
    assert words <= asked, words - asked
    assert pipeline.words.count() == stored + len(words)


def test_word_table_of_another_model_starts_empty(tmp_path: Path) -> None:
    from qa.models.words import WordVectors

    words = WordVectors(tmp_path, "model-a")
    words.put_many({"strike": np.ones(4, dtype=np.float32) / 2, "two words": np.ones(4, dtype=np.float32)})
    assert set(words.get_many(["strike", "two words", "absent"])) == {"strike"}
    assert WordVectors(tmp_path, "model-b").get_many(["strike"]) == {}


def test_known_vectors_come_from_the_store_or_cache_never_the_model(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Corroboration reads every sentence of a retrieved article: stored vectors only, then cached."""
    pipeline = make_pipeline(seed_copy, embedder)
    passages = pipeline.search("What conditions did Russia set for a ceasefire?")
    texts = [c.text for c in candidates(passages, pairs=False)][:6]
    cache = pipeline.verifier.embeddings
    never_stored = "A sentence no article holds, so no vector of it was stored."
    with embedded_texts(pipeline) as live:
        found = cache.known([*texts, never_stored])
    assert set(found) == set(texts) and not any(live)  # nothing embedded, the unknown text left out
    stored = pipeline.store.sentence_vectors(texts)
    assert all(np.array_equal(found[t], stored[t]) for t in texts)
    cache.stored = None  # the store gone: the cached vectors still answer
    assert set(cache.known(texts)) == set(texts)
