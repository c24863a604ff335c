"""The embedder's precision choice and its length-sorted batches, on the real MiniLM model."""

from __future__ import annotations

import numpy as np
import pytest

from qa.errors import QAError
from qa.models.embedding import SentenceTransformerEmbedder, cpu_has_bf16, resolve_precision

TEXTS = [
    "Short one.",
    "A much longer sentence about the harbor council vote, the river project and the budget "
    "that the mayor proposed on Tuesday after weeks of debate in the city hall.",
    "Putin said he is open to talks.",
    "",
    "Medium length text on a new bridge over the river, opened this week.",
]


def test_precision_is_resolved_from_the_setting_and_the_cpu() -> None:
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "fp32")
    with pytest.raises(QAError, match="auto, bf16 or fp32"):
        resolve_precision("int8")


def test_bf16_vectors_stay_within_cosine_0999_of_fp32(embedder: SentenceTransformerEmbedder) -> None:
    fp32 = SentenceTransformerEmbedder(precision="fp32")
    bf16 = SentenceTransformerEmbedder(precision="bf16")
    # Share the loaded model: precision is applied per call, not baked into the weights.
    fp32._model = bf16._model = embedder._get_model()
    a, b = fp32.embed(TEXTS), bf16.embed(TEXTS)
    assert a.dtype == b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.999


def test_length_sorted_batches_return_vectors_in_input_order(embedder: SentenceTransformerEmbedder) -> None:
    together = embedder.embed(TEXTS, batch_size=2)
    one_by_one = np.vstack([embedder.embed([t]) for t in TEXTS])
    assert together.shape == (len(TEXTS), embedder.dimension)
    # Padding differs between the two, so equal up to arithmetic noise, never another text's vector.
    assert float((together * one_by_one).sum(axis=1).min()) > 0.999


def test_progress_counts_every_text(embedder: SentenceTransformerEmbedder) -> None:
    seen: list[int] = []
    embedder.embed(TEXTS * 10, batch_size=2, progress=seen.append)
    assert sum(seen) == len(TEXTS) * 10
