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


def test_questions_encoded_by_onnx_runtime_equal_torchs(embedder: SentenceTransformerEmbedder) -> None:
    """The default single-text path (ONNX Runtime over the exported graph) gives torch's vectors."""
    assert embedder.question_encoder == "onnx"
    model = embedder._get_model()
    for text in ("Who won the 2022 World Cup?", "ceasefire", "How many people were injured in Sumy? " * 30):
        onnx = embedder.embed([text])
        torch = embedder._encode_one(model, text)
        assert onnx.shape == torch.shape == (1, 384) and onnx.dtype == np.float32
        assert float(onnx[0] @ torch[0]) > 0.99999


def test_the_question_encoder_falls_back_to_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qa.models.onnx_encoder import OnnxQuestionEncoder

    forced = SentenceTransformerEmbedder(question_runtime="torch")
    assert forced.question_encoder == "torch"
    model = forced._get_model()
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    # The graph can't be written: no ONNX encoder, and nothing raised (questions go to torch).
    assert OnnxQuestionEncoder.load(model, lambda t: forced._encode_one(model, t), cache_dir=blocked) is None
    with pytest.raises(QAError, match="question encoder"):
        SentenceTransformerEmbedder(question_runtime="gpu")
