"""The ``litellm:<model>`` backend: any litellm model string (``litellm:openai/gpt-4o-mini``,
``litellm:ollama/llama3.1``, ``litellm:anthropic/claude-...``, or an OpenAI-compatible server
via ``QA_LLM_API_BASE``).  litellm is imported here only, lazily, and its exceptions become
:class:`~qa.errors.BackendError`.  Registered in :func:`qa.answer.backends.get_backend`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from qa.answer.backends import Turn, heuristic_condense
from qa.answer.prompts import format_passages, load_prompt
from qa.errors import BackendError, UnknownBackend
from qa.types import Passage, Question

log = logging.getLogger(__name__)


def _import_litellm() -> Any:
    # litellm fetches a model price list at import unless LITELLM_LOCAL_MODEL_COST_MAP is set, and
    # offers no other switch: the `qa` entry point sets it at start-up (qa.cli.main), never here.
    if "litellm" not in sys.modules and os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "").lower() != "true":
        log.warning("LITELLM_LOCAL_MODEL_COST_MAP is not set: litellm may fetch its price list at import")
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


def _provider_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the provider (or the way to it) failed: litellm's, which are
    openai's, and the transport's.  Anything else raised in a call is our own bug: it propagates."""
    import httpx
    import openai

    return (openai.OpenAIError, httpx.HTTPError, ConnectionError, TimeoutError)


class LiteLLMBackend:
    """Any litellm model: the prompts from ``prompts/``, passages numbered and framed as data."""

    def __init__(
        self,
        model: str,
        *,
        prompts_dir: Path,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 400,
        temperature: float = 0.0,
    ) -> None:
        if not model:
            raise UnknownBackend(
                "litellm backend needs a model: litellm:<provider>/<model>, e.g. litellm:openai/gpt-4o-mini"
            )
        self.model = model
        self.name = f"litellm:{model}"
        self.prompts_dir = prompts_dir
        self.api_base = api_base
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        # Fail at start-up, not on the first question, if a template is broken.
        for name in ("system", "answer", "condense"):
            load_prompt(prompts_dir, name)

    def messages(self, question: Question | str, passages: Sequence[Passage]) -> list[dict[str, str]]:
        """The chat messages sent for one question (exposed for tests and debugging)."""
        if isinstance(question, Question):
            question = question.retrieval_text
        system = load_prompt(self.prompts_dir, "system").render()
        user = load_prompt(self.prompts_dir, "answer").render(
            passages=format_passages(list(passages)), question=question
        )
        return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]

    def _call(self, messages: list[dict[str, str]], *, stream: bool, max_tokens: int | None = None) -> Any:
        litellm = _import_litellm()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "timeout": self.timeout_s,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
            "num_retries": 0,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        elif self.api_base:
            # OpenAI-compatible local servers need some key; they ignore its value.
            kwargs["api_key"] = "sk-local"
        try:
            return litellm.completion(**kwargs)
        except _provider_errors() as exc:
            raise _backend_error(self.model, exc) from exc

    def draft(self, question: Question, passages: Sequence[Passage]) -> str:
        if not passages:
            return ""
        response = self._call(self.messages(question, passages), stream=False)
        try:
            return response.choices[0].message.content or ""
        except (AttributeError, IndexError) as exc:
            raise BackendError(f"{self.model} returned no message") from exc

    def stream(self, question: Question, passages: Sequence[Passage]) -> Iterator[str]:
        if not passages:
            return
        response = self._call(self.messages(question, passages), stream=True)
        try:
            for chunk in response:
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    yield delta
        except _provider_errors() as exc:
            raise _backend_error(self.model, exc) from exc

    def condense(self, history: Sequence[Turn], question: str) -> Question:
        if not any(t.role == "user" for t in history):
            return Question(question)
        lines = "\n".join(f"{t.role}: {t.content.strip()}" for t in history[-6:])
        prompt = load_prompt(self.prompts_dir, "condense").render(history=lines, question=question)
        response = self._call([{"role": "user", "content": prompt}], stream=False, max_tokens=80)
        text = (response.choices[0].message.content or "").strip().splitlines()
        standalone = text[0].strip().strip('"') if text else ""
        # A tiny model may ramble or refuse; the heuristic is a safe floor.
        if not standalone or len(standalone) > 4 * len(question) + 200:
            return heuristic_condense(history, question)
        return Question(standalone)


def _backend_error(model: str, exc: BaseException) -> BackendError:
    """One border for provider errors: keep the provider's reason, drop the traceback."""
    reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    reason = re.sub(r"\s+", " ", str(reason)).strip()
    kind = type(exc).__name__
    return BackendError(f"LLM backend {model} failed ({kind}): {reason[:500]}")
