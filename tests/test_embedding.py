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


def test_questions_encoded_by_the_default_runtime_equal_torchs(embedder: SentenceTransformerEmbedder) -> None:
    """The default single-text path (OpenVINO bf16 on CPUs with bf16, else ONNX Runtime) gives torch's vectors."""
    expected = "openvino" if embedder.precision == "bf16" else "onnx"
    assert embedder.question_encoder == expected
    floor = 0.9999 if expected == "openvino" else 0.99999
    model = embedder._get_model()
    for text in ("Who won the 2022 World Cup?", "ceasefire", "How many people were injured in Sumy? " * 30):
        fast = embedder.embed([text])
        torch = embedder._encode_one(model, text)
        assert fast.shape == torch.shape == (1, 384) and fast.dtype == np.float32
        assert float(fast[0] @ torch[0]) > floor
        assert abs(float(np.linalg.norm(fast[0])) - 1.0) < 1e-5


@pytest.mark.parametrize("runtime", ["openvino", "onnx"])
def test_each_question_runtime_can_be_forced(runtime: str) -> None:
    """Forced runtimes load (OpenVINO in f32 where the CPU lacks bf16) and agree with torch."""
    forced = SentenceTransformerEmbedder(question_runtime=runtime)
    assert forced.question_encoder == runtime
    model = forced._get_model()
    text = "Which Houston pitcher got the final three outs of the combined no-hitter?"
    assert float(forced.embed([text])[0] @ forced._encode_one(model, text)[0]) > 0.9999


def test_openvino_pads_to_a_few_compiled_lengths() -> None:
    """Questions of different lengths share compiled shapes; padding leaves the vector unchanged."""
    forced = SentenceTransformerEmbedder(question_runtime="openvino")
    model = forced._get_model()
    encoder = forced._question_encoder(model)
    short, longer = "Who won?", "Who won the runoff election in Colombia in June 2022, and by how much?"
    vectors = [forced.embed([t])[0] for t in (short, longer, short)]
    assert float(vectors[0] @ vectors[2]) > 0.999999  # the same text, the same compiled shape
    for text, vector in zip((short, longer), vectors, strict=False):
        assert float(vector @ forced._encode_one(model, text)[0]) > 0.9999
    assert set(encoder._compiled) <= set(encoder.buckets) and len(encoder._compiled) <= 3  # type: ignore[union-attr]


def test_the_question_encoder_falls_back_to_torch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qa.models.onnx_encoder import OnnxQuestionEncoder
    from qa.models.openvino_encoder import OpenVinoEncoder

    forced = SentenceTransformerEmbedder(question_runtime="torch")
    assert forced.question_encoder == "torch"
    model = forced._get_model()
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    # The graph can't be written: no ONNX encoder, and nothing raised (questions go to torch).
    assert OnnxQuestionEncoder.load(model, lambda t: forced._encode_one(model, t), cache_dir=blocked) is None
    assert OpenVinoEncoder.load(model, lambda t: forced._encode_one(model, t), cache_dir=blocked) is None
    with pytest.raises(QAError, match="question encoder"):
        SentenceTransformerEmbedder(question_runtime="gpu")


def test_batches_through_openvino_equal_torchs_in_order() -> None:
    """Ingest batches (OpenVINO bf16 where the CPU has bf16) match torch's fp32 vectors, in input order."""
    fast = SentenceTransformerEmbedder(precision="bf16", batch_runtime="openvino")
    exact = SentenceTransformerEmbedder(precision="fp32", batch_runtime="auto")
    assert fast.batch_encoder == "openvino" and exact.batch_encoder == "torch"  # fp32 stays on torch
    texts = [*TEXTS, "A longer sentence about a ceasefire, talks and a missile strike on Sumy. " * 4]
    got, want = fast.embed(texts, batch_size=2), exact.embed(texts, batch_size=2)
    assert got.shape == want.shape == (len(texts), 384) and got.dtype == np.float32
    assert float((got * want).sum(axis=1).min()) > 0.9999
    with pytest.raises(QAError, match="embedding runtime"):
        SentenceTransformerEmbedder(batch_runtime="gpu")


def test_openvino_streams_keep_input_order_and_report_progress() -> None:
    """Many small batches in flight on several streams at once come back in input order, each counted once."""
    fast = SentenceTransformerEmbedder(precision="bf16", batch_runtime="openvino")
    exact = SentenceTransformerEmbedder(precision="fp32", batch_runtime="auto")
    texts = [
        f"Report {i}: the council voted {i} to {40 - i} on the harbour plan." + " More." * (i % 7)
        for i in range(40)
    ]
    seen: list[int] = []
    got = fast.embed(texts, batch_size=2, progress=seen.append)
    want = exact.embed(texts, batch_size=8)
    assert sum(seen) == len(texts) and len(seen) > 1
    cosine = got @ want.T
    assert float(np.diag(cosine).min()) > 0.9999
    # Each text's vector is its own: closer to its fp32 vector than to any other text's.
    assert (cosine.argmax(axis=1) == np.arange(len(texts))).all()
