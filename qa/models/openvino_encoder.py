"""Texts through OpenVINO in bf16 on CPUs with AMX / AVX-512-BF16: questions and ingest batches.

ONNX Runtime's CPU kernels run the exported graph in fp32: at one short sequence
its matrix products are compute-bound (about 80 GFLOP/s on one core here), so
fp32 has little left to give.  OpenVINO runs the same exported graph with bf16
arithmetic where the CPU has it (AMX tiles, AVX-512-BF16): measured here about
2x faster than ONNX Runtime at one thread, with cosine 0.99998 to torch's fp32
vector (the same agreement as the bf16 autocast that ingest already uses).

Shapes are static: a question is padded to the next of a few lengths
(:data:`BUCKETS`, up to the model's maximum) and each length is compiled once, on
first use.  Dynamic shapes cost OpenVINO a shape inference on every call (its p95
was twice its p50); the padding is masked out by the attention mask and the mean
pooling, so the vector is the unpadded one.

Batches (ingest) run through a second compilation with dynamic shapes (a batch
is one call, so a shape inference per call is noise there), tuned for throughput:
:data:`BATCH_STREAMS` requests in flight at once.  Measured about 1.7x faster than
torch under bf16 autocast on the same length-sorted batches with one stream, cosine
0.99995 to them; the streams add another 1.6x on sentences.

Used only when the CPU has bf16 arithmetic and ``QA_EMBED_PRECISION`` allows it;
elsewhere ONNX Runtime's fp32 is as fast, and :mod:`qa.models.onnx_encoder` is
used.  Anything missing (the ``openvino`` package, an unwritable cache, a vector
that disagrees with torch's) falls back with one log line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.models.onnx_encoder import PROBE, exported_graph, graph_inputs

log = logging.getLogger(__name__)

MIN_COSINE = 0.9999
"""bf16 rounds: this is the floor for its vector against torch's fp32 one (measured 0.99998)."""
BUCKETS = (16, 32, 64, 128, 256, 512)
WARM = 3
"""Lengths compiled at load (about 0.3 s each): 16, 32 and 64 tokens hold nearly every question."""
BATCH_STREAMS = 4
"""Batches run as this many concurrent inference streams, each batch one request, the next
tokenized meanwhile: on 2 cores, 4 streams of 32 texts embedded 2,554 news sentences 1.6x
faster than one latency-tuned stream of 64 (4.9 against 8.0 s, median of 3 interleaved runs;
the README's eighth speed round)."""
MAX_STREAM_BATCH = 32


class OpenVinoEncoder:
    """Encodes texts with OpenVINO (bf16); build with :meth:`load`, which returns None when it can't."""

    def __init__(
        self, core: Any, path: Path, tokenizer: Any, max_length: int, threads: int, precision: str = "bf16"
    ) -> None:
        self.core = core
        self.precision = precision
        self.path = path
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.threads = threads
        self.buckets = sorted({b for b in BUCKETS if b < max_length} | {max_length})
        self._compiled: dict[int, Any] = {}
        self._batch: Any = None  # dynamic shapes, for batches; compiled on first use
        self._local = threading.local()  # an infer request is not thread-safe: one per thread and length
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model: Any,
        reference: Any,
        cache_dir: Path | None = None,
        threads: int = 1,
        precision: str = "bf16",
    ) -> OpenVinoEncoder | None:
        """Export (once) and compile the graph for ``model``; ``reference(text)`` is torch's fp32 vector.

        ``precision`` is ``bf16`` (what ``auto`` picks, on CPUs with bf16 arithmetic) or ``f32``.
        """
        try:
            import openvino as ov
        except ImportError:
            log.info("openvino is not installed: questions are encoded by ONNX Runtime or torch")
            return None
        try:
            path = exported_graph(model, cache_dir)
            if path is None:
                return None
            encoder = cls(ov.Core(), path, model.tokenizer, int(model.max_seq_length), threads, precision)
            cosine = float(encoder.encode(PROBE)[0] @ np.asarray(reference(PROBE)).reshape(-1))
            batched = encoder.encode_batch([PROBE, "A second, longer text, so the batch is padded."], 2)
            cosine = min(cosine, float(batched[0] @ np.asarray(reference(PROBE)).reshape(-1)))
            for length in encoder.buckets[:WARM]:  # most questions: compiled now, not on a first request
                encoder._request(length)
        except Exception as exc:
            log.warning("OpenVINO question encoder unavailable (%s): trying ONNX Runtime", exc)
            return None
        if cosine < MIN_COSINE:
            log.warning("OpenVINO's bf16 question vector differs from torch's (cosine %.6f)", cosine)
            return None
        return encoder

    def _compile(self, shape: list[int] | None, threads: int, streams: int = 1) -> Any:
        graph = self.core.read_model(str(self.path))
        if shape is not None:
            graph.reshape({name: shape for name in ("ids", "mask", "types")})
        return self.core.compile_model(
            graph,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": self.precision,
                "INFERENCE_NUM_THREADS": threads,
                "PERFORMANCE_HINT": "LATENCY" if streams == 1 else "THROUGHPUT",
                "NUM_STREAMS": streams,
                # torch and ONNX Runtime share these cores: no threads pinned to them.
                "ENABLE_CPU_PINNING": False,
            },
        )

    def _request(self, length: int) -> tuple[Any, Any]:
        """The compiled model for ``length`` tokens (compiled once) and this thread's request for it."""
        compiled = self._compiled.get(length)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(length)
                if compiled is None:
                    compiled = self._compile([1, length], self.threads)
                    self._compiled[length] = compiled
        requests = self._local.__dict__.setdefault("requests", {})
        request = requests.get(length)
        if request is None:
            request = requests[length] = compiled.create_infer_request()
        return compiled, request

    def encode_batch(
        self,
        texts: list[str],
        batch_size: int,
        threads: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """``(len(texts), dimension)`` float32 unit vectors, ``batch_size`` texts per call, in order given.

        The caller sorts by length (so a batch pads to about its own length); ``threads``
        (0: this encoder's) is fixed at the first call.  ``progress(n)``: ``n`` more texts
        embedded, called on the caller's thread.
        """
        import openvino as ov

        if self._batch is None:
            with self._lock:
                if self._batch is None:
                    self._batch = self._compile(None, threads or self.threads, BATCH_STREAMS)
        queue = self._local.__dict__.get("batch")
        if queue is None:
            queue = self._local.batch = ov.AsyncInferQueue(self._batch, BATCH_STREAMS)
        out: dict[int, np.ndarray] = {}
        finished, counting = [0], threading.Lock()  # texts embedded; callbacks run on OpenVINO's threads

        def done(request: Any, n: int) -> None:  # a copy: the request's output buffer is reused
            vectors = np.array(request.get_output_tensor(0).data, dtype=np.float32)
            with counting:
                out[n] = vectors
                finished[0] += len(vectors)

        queue.set_callback(done)
        size, told = min(batch_size, MAX_STREAM_BATCH), 0

        def tell() -> None:
            nonlocal told
            now = finished[0]
            if progress is not None and now > told:
                progress(now - told)
                told = now

        # The next batch is tokenized here while the streams run the ones before it.
        for n, i in enumerate(range(0, len(texts), size)):
            queue.start_async(graph_inputs(self.tokenizer, texts[i : i + size], self.max_length), n)
            tell()
        queue.wait_all()
        tell()
        vectors = np.concatenate([out[n] for n in sorted(out)]) if out else np.zeros((0, 0), np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def encode(self, text: str) -> np.ndarray:
        """``(1, dimension)`` float32 unit vector."""
        feeds = graph_inputs(self.tokenizer, [text], self.max_length)
        used = feeds["ids"].shape[1]
        length = next(b for b in self.buckets if b >= used)
        padded = {name: np.pad(v, ((0, 0), (0, length - used))) for name, v in feeds.items()}
        compiled, request = self._request(length)
        vector = np.asarray(request.infer(padded)[compiled.output(0)], dtype=np.float32)
        # Normalized again in fp32: bf16 rounds the graph's own normalization.
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return np.ascontiguousarray(vector.reshape(1, -1))
