"""One text (a question) through ONNX Runtime instead of torch: same vector, a fraction of the time.

A question is one short sequence; for it, torch's per-call overhead (module dispatch,
autograd bookkeeping, its OpenMP pool) costs more than the arithmetic, and under
concurrent load its threads spin against each other.  ONNX Runtime runs the same
graph with a lean executor.  The graph is exported from the loaded
sentence-transformers model itself (transformer, mean pooling, L2 normalization),
once, into a cache file keyed by the model's weights; on load its vector for a probe
sentence is compared with torch's and the session is refused unless the cosine is
at least :data:`MIN_COSINE`.  Batches (ingest) stay on torch, where bf16 on AMX
pays.  Anything missing (the ``onnxruntime`` or ``onnx`` package, a model other
than mean pooling, an unwritable cache) falls back to torch with one log line.

Measured with ``scripts/bench_encoder.py``: see the README's figures.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MIN_COSINE = 0.99999
PROBE = "What conditions did Russia set for a ceasefire in Ukraine?"
OPSET = 17


def default_cache_dir() -> Path:
    """``$QA_ONNX_CACHE``, else ``$XDG_CACHE_HOME/qa/onnx`` (``~/.cache/qa/onnx``)."""
    if os.environ.get("QA_ONNX_CACHE"):
        return Path(os.environ["QA_ONNX_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qa" / "onnx"


def _fingerprint(model: Any) -> str:
    """A key for the exported graph: the weights' bytes (sampled), shapes and the library versions."""
    import torch
    import transformers

    digest = hashlib.sha256(f"{torch.__version__} {transformers.__version__} {OPSET}".encode())
    for name, tensor in model[0].auto_model.state_dict().items():
        flat = tensor.detach().reshape(-1)
        digest.update(f"{name}{tuple(tensor.shape)}".encode())
        digest.update(flat[:: max(1, flat.numel() // 256)].float().numpy().tobytes())
    return digest.hexdigest()[:24]


def _mean_pooling(model: Any) -> bool:
    """True when the model is transformer -> mean pooling (-> normalize), the graph exported here."""
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    config = model[1].get_config_dict()
    if "pooling_mode" in config:  # sentence-transformers 6
        return bool(config["pooling_mode"] == "mean")
    modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
    return modes == ["pooling_mode_mean_tokens"]


def _export(model: Any, path: Path) -> None:
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            out = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            weights = mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = model.tokenizer([PROBE], return_tensors="pt")
    dynamic = {name: {0: "b", 1: "s"} for name in ("ids", "mask", "types")} | {"vector": {0: "b"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".onnx.tmp", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes, not problems here
            torch.onnx.export(
                Graph(model[0].auto_model).eval(),
                (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
                str(tmp_path),
                input_names=["ids", "mask", "types"],
                output_names=["vector"],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp_path, path)  # atomic: a reader never sees half a file
    finally:
        tmp_path.unlink(missing_ok=True)


def exported_graph(model: Any, cache_dir: Path | None = None) -> Path | None:
    """The model's graph as an ONNX file (exported once, cached by fingerprint); None if not mean pooling."""
    if not _mean_pooling(model):
        log.info("the embedding model does not use mean pooling: questions are encoded by torch")
        return None
    path = (cache_dir or default_cache_dir()) / f"question-{_fingerprint(model)}.onnx"
    with _EXPORT_LOCK:
        if not path.exists():
            _export(model, path)
    return path


class OnnxQuestionEncoder:
    """Encodes one text with ONNX Runtime; build with :meth:`load`, which returns None when it can't."""

    def __init__(self, session: Any, tokenizer: Any, max_length: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def load(
        cls, model: Any, reference: Any, cache_dir: Path | None = None, threads: int = 0
    ) -> OnnxQuestionEncoder | None:
        """Export (once) and open the graph for ``model``; ``reference(text)`` is torch's vector for the check."""
        try:
            import onnxruntime as ort
        except ImportError:
            log.info("onnxruntime is not installed: questions are encoded by torch")
            return None
        try:
            path = exported_graph(model, cache_dir)
            if path is None:
                return None
            options = ort.SessionOptions()
            # As many threads as torch has (1 per request in `qa serve`, all cores in batch commands).
            options.intra_op_num_threads = threads or _torch_threads()
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            encoder = cls(session, model.tokenizer, int(model.max_seq_length))
            cosine = float(encoder.encode(PROBE)[0] @ np.asarray(reference(PROBE)).reshape(-1))
        except Exception as exc:
            log.warning("ONNX question encoder unavailable (%s): questions are encoded by torch", exc)
            return None
        if cosine < MIN_COSINE:
            log.warning("ONNX question vector differs from torch's (cosine %.6f): using torch", cosine)
            return None
        return encoder

    def encode(self, text: str) -> np.ndarray:
        """``(1, dimension)`` float32 unit vector."""
        vector = self.session.run(None, graph_inputs(self.tokenizer, [text], self.max_length))[0]
        return np.ascontiguousarray(vector, dtype=np.float32)


def graph_inputs(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    """The exported graph's inputs for ``texts`` (padded to the longest), int64 as it was traced."""
    t = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
    ids = t["input_ids"].astype(np.int64)
    return {
        "ids": ids,
        "mask": t["attention_mask"].astype(np.int64),
        "types": t.get("token_type_ids", np.zeros_like(ids)).astype(np.int64),
    }


_EXPORT_LOCK = threading.Lock()


def _torch_threads() -> int:
    import torch

    return max(1, int(torch.get_num_threads()))
