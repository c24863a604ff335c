"""Answer backends: a protocol, a registry keyed by name, and the two built-in backends
(the litellm one lives in :mod:`qa.answer.llm`).

* ``extractive`` (the offline default): picks the sentences of the retrieved
  passages that best answer the question and quotes them verbatim, so it is
  grounded by construction and needs no key, no network and no LLM.
* ``litellm:<model>``: any litellm model string (``litellm:openai/gpt-4o-mini``,
  ``litellm:ollama/llama3.1``, ``litellm:anthropic/claude-...``, or an
  OpenAI-compatible server via ``QA_LLM_API_BASE``).  litellm is imported here
  only, lazily, and its exceptions become :class:`~qa.errors.BackendError`.

Every backend's draft goes through :mod:`qa.answer.verify` verification afterwards.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.answer.assess import SentenceFit, assess, focus_labels
from qa.answer.attachment import restates
from qa.answer.entail import CONTRADICTED, ENTAILED, judge
from qa.answer.evidence import Candidate, EmbeddingCache, between, candidates, continuations, continued
from qa.answer.nonanswers import another_times_news, asked_time
from qa.answer.question import QuestionInfo, analyze, names_missing
from qa.config import Settings
from qa.errors import UnknownBackend
from qa.models.nlp import COMPARED_POS, Annotator, joined
from qa.models.words import relabeled
from qa.text import content_stems, overlap, strip_markers
from qa.types import Passage, Question

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: str  # "user" or "assistant"
    content: str


class Backend(Protocol):
    """Drafts an answer with ``[n]`` markers that refer to 1-based passage numbers.

    ``draft`` returns the whole reply; ``stream`` yields it in pieces as it is
    produced; ``condense`` turns a follow-up plus the conversation into a
    standalone question.  Replies are verified by the pipeline, never trusted.
    """

    name: str

    def draft(self, question: Question, passages: Sequence[Passage]) -> str: ...

    def stream(self, question: Question, passages: Sequence[Passage]) -> Iterator[str]: ...

    def condense(self, history: Sequence[Turn], question: str) -> Question: ...


_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|why|what else)\b|\b(it|its|they|them|their|he|him|his|she|her|this|that|these|those|there)\b",
    re.IGNORECASE,
)


def recent_turns(history: Sequence[Turn], max_chars: int) -> list[Turn]:
    """The latest turns of a conversation within ``max_chars`` characters in all.

    What a backend condenses (an LLM prompt) is bounded however long the
    conversation: older turns go first, and the oldest turn kept may be cut to
    its end (a question's words are at its end).
    """
    kept: list[Turn] = []
    budget = max_chars
    for turn in reversed(history):
        if budget <= 0:
            break
        content = turn.content if len(turn.content) <= budget else turn.content[-budget:]
        kept.append(Turn(turn.role, content))
        budget -= len(content)
    kept.reverse()
    return kept


def heuristic_condense(history: Sequence[Turn], question: str) -> Question:
    """Without an LLM: a follow-up that leans on the conversation gets it as context.

    "And what did Ukraine say?" after "What conditions did Russia set?" becomes
    ``Question("And what did Ukraine say?", context="What conditions did Russia set? <answer>")``:
    retrieval sees both; what is asked is read from the follow-up alone.
    """
    earlier = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    if not earlier:
        return Question(question)
    if _FOLLOW_UP.search(question) or len(content_stems(question)) < 3:
        context = earlier[-1]
        last = history[-1]
        if last.role == "assistant" and last.content.strip():
            # The previous answer is what "it"/"they" usually point at.
            said = " ".join(strip_markers(last.content).split())
            context = f"{context} {said[:400]}"
        return Question(question.strip(), context)
    return Question(question)


class ExtractiveBackend:
    """Quotes the passage sentence that answers the question (offline, grounded by construction).

    A sentence's relevance is ``0.6 * cosine(question, sentence) + 0.4 * lexical``
    where *lexical* is the share of the question's content words in the sentence
    or its article's title.  The most relevant sentences are then read
    (:mod:`qa.answer.assess`): a sentence answers only if it states the question's
    predicate and, when the question asks for a person, place, date, quantity or
    named thing, holds one that the question doesn't already contain.  Nothing
    answers: the draft is empty and the answer is declined.  A second sentence is
    quoted only when it holds another answer of the asked type (never as padding).
    """

    name = "extractive"
    READ = 8  # most relevant sentences read per question
    YESNO_JUDGED = 3  # best sentences judged against a yes/no question's proposition

    def __init__(
        self,
        embeddings: EmbeddingCache,
        *,
        min_relevance: float = 0.4,
        max_sentences: int = 2,
        annotator: Annotator | None = None,
        min_predicate: float = 0.45,
    ) -> None:
        self.embeddings = embeddings
        self.min_relevance = min_relevance
        self.max_sentences = max_sentences
        self.annotator = annotator or Annotator()
        self.min_predicate = min_predicate

    def rank(
        self, question: Question, passages: Sequence[Passage]
    ) -> tuple[list[Candidate], list[tuple[float, int]]]:
        """The passages' sentences, and ``(relevance, index)`` for each of them, best first."""
        cands = candidates(passages, pairs=False)
        if not cands:
            return cands, []
        relevance = self._relevance(question.text, cands, passages)
        context = question.context
        if context:
            # A follow-up's own words decide; the conversation breaks ties towards its topic,
            # a sentence the conversation already quoted is not news to the reader, and the
            # sentence right after it is where a story usually goes on ("...; Ukraine called it").
            relevance = 0.7 * relevance + 0.3 * self._relevance(context, cands, passages)
            said = " ".join(context.split())
            for i, cand in enumerate(cands):
                if " ".join(cand.text.split()).rstrip(".") in said:
                    relevance[i] *= 0.5
                elif cand.before and " ".join(cand.before.split()).rstrip(".") in said:
                    relevance[i] *= 1.25
        ranked = sorted(((float(r), i) for i, r in enumerate(relevance)), reverse=True)
        return cands, ranked

    def _relevance(
        self, question: str, cands: Sequence[Candidate], passages: Sequence[Passage]
    ) -> np.ndarray:
        vectors = self.embeddings.embed([question, *(c.text for c in cands)])
        cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        wanted = set(content_stems(question))
        scores = np.zeros(len(cands), dtype=np.float64)
        for i, cand in enumerate(cands):
            title = passages[cand.passage - 1].title
            lexical = overlap(wanted, cand.text)
            in_title = overlap(wanted, title)
            lexical = max(lexical, 0.5 * lexical + 0.5 * min(1.0, lexical + in_title))
            scores[i] = 0.6 * float(cosine[i]) + 0.4 * lexical
        return scores

    def read(
        self, question: Question, passages: Sequence[Passage]
    ) -> tuple[QuestionInfo, list[tuple[float, Candidate, SentenceFit]]]:
        """The question's analysis and the sentences that answer it, best first, with their fit."""
        info = analyze(self.annotator.annotate([question.text], persist=False)[0])
        cands, ranked = self.rank(question, passages)
        asked = asked_time(question.text)
        top = [
            (r, cands[i])
            for r, i in ranked[: self.READ]
            if r >= self.min_relevance
            and not another_times_news(
                asked, cands[i].text, cands[i].before, passages[cands[i].passage - 1].published_at
            )
        ]
        if not top:
            return info, []
        labels = focus_labels(info, self.embeddings.words)
        # "... has died. She was 90.": a sentence going on about who the one before names is read with it.
        going_on = continuations([c for _, c in top], cands) if info.types else []
        parsed = self.annotator.annotate([*(c.text for _, c in top), *(n.text for _, n in going_on)])
        singles, position = len(top), {id(c): i for i, (_, c) in enumerate(top)}
        units = parsed[:singles]
        for k, (lead, nxt) in enumerate(going_on):
            i = position[id(lead)]
            gap = between(passages, lead.doc_id, lead.end, nxt.start)
            top.append((top[i][0], continued(lead, nxt, gap)))
            units.append(joined(parsed[i], gap, parsed[singles + k]))
        # A name spaCy typed otherwise here is of the asked type if the corpus often types it so.
        sents = relabeled(units, self.embeddings.words, info.types, labels)
        # One batched embed of every word the predicate checks will compare (cached after), not
        # one small encode per sentence.
        asked = [w for w in (info.predicate, info.focus, info.unit, *info.also) if w]
        if asked:
            words = {t.lemma for sent in sents for t in sent.toks if t.pos in COMPARED_POS}
            self.embeddings.embed(sorted(words | set(asked)))
        answers: list[tuple[float, Candidate, SentenceFit]] = []
        # Asked about Kharkiv, passages that never name it do not answer (looked up across all the
        # retrieved passages: "Moscow" may be named in the paragraph before the answer).
        if names_missing(info, [t for p in passages for t in (p.text, p.title)]):
            return info, []
        for (relevance, cand), sent in zip(top, sents, strict=True):
            fit = assess(
                info,
                sent,
                relevance,
                word_similarity=self.embeddings.word_similarity,
                min_predicate=self.min_predicate,
                labels=labels,
            )
            if info.types and not fit.answers:
                continue  # names no person / place / date / number the question asks for
            if cand.then and not any(
                e.start >= cand.then and (e in fit.linked or restates(sent, e)) for e in fit.answers
            ):
                continue  # a sentence going on from the one before answers only what that one asks
            # An answer that hangs on the asked predicate in the parse beats one that merely sits beside it.
            linked = 1.0 if fit.linked or not info.types else 0.75
            score = relevance * (0.5 + 0.5 * fit.predicate) * (0.5 + 0.5 * fit.coverage) * linked
            answers.append((score, cand, fit))
        answers.sort(key=lambda a: -a[0])
        return info, answers

    def _decides(self, question: Question, cand: Candidate, fit: SentenceFit, title: str = "") -> bool:
        """Whether ``cand`` states the yes/no ``question``'s predicate (the same lemma) and entails or
        denies its proposition (the verifier's checks, the question read as the claim)."""
        if fit.predicate < 1.0:
            # The question's own predicate, not a near word: asked whether the winner *chose*
            # the lump sum, or whether a review *found* a gate unlocked, a sentence on the sum or
            # the escape does not answer (near words measured 0.55-0.77 on such near-misses).
            return False
        claim, evidence, before, heading = self.annotator.annotate(
            [question.text, cand.text, cand.before or "-", title or "-"]
        )
        # The sentence before and the title name whom "he" or "a 17-year-old" stands for, as they do
        # for the verifier.
        verdict = judge(
            claim, evidence, context=[before, heading], min_support=0.0, similarity=self._similarity
        )
        # Denied is an answer ("no immediate plans"); a detail that differs (another year, sum) is not.
        failed = {check for check, ok in verdict.checks.items() if not ok}
        return verdict.label == ENTAILED or (verdict.label == CONTRADICTED and failed == {"polarity"})

    def _similarity(self, a: str, b: str) -> float:
        vectors = self.embeddings.embed([a, b])
        return float(vectors[0] @ vectors[1])

    def draft(self, question: Question, passages: Sequence[Passage]) -> str:
        info, answers = self.read(question, passages)
        if info.kind == "yesno":
            # A yes/no question is answered by a sentence that states or denies its proposition
            # (the verifier's checks, the question read as the claim), never by a topical one.
            answers = [
                a
                for a in answers[: self.YESNO_JUDGED]
                if self._decides(question, a[1], a[2], passages[a[1].passage - 1].title)
            ][:1]
        if not answers:
            return ""
        best_score, best, best_fit = answers[0]
        chosen = [best]
        seen = {e.text.lower() for e in best_fit.answers}
        for score, cand, fit in answers[1:]:
            if len(chosen) >= self.max_sentences or score < 0.9 * best_score or not info.types:
                break
            new = {e.text.lower() for e in fit.answers} - seen
            if not new or any(
                c.doc_id == cand.doc_id and c.start < cand.end and cand.start < c.end for c in chosen
            ):
                continue
            chosen.append(cand)
            seen |= new
        # Keep the article's order when both come from one document; reads more naturally.
        chosen.sort(key=lambda c: (c.passage, c.start))
        return " ".join(
            f"{c.text[: c.then].rstrip()} [{c.passage}] {c.text[c.then :]} [{c.passage}]"
            if c.then
            else f"{c.text} [{c.passage}]"
            for c in chosen
        )

    def stream(self, question: Question, passages: Sequence[Passage]) -> Iterator[str]:
        text = self.draft(question, passages)
        for match in re.finditer(r"\S+\s*", text):
            yield match.group(0)

    def condense(self, history: Sequence[Turn], question: str) -> Question:
        return heuristic_condense(history, question)


BUILTIN_BACKENDS = ("extractive", "litellm:<model>")


def get_backend(
    name: str, *, settings: Settings, embeddings: EmbeddingCache, annotator: Annotator | None = None
) -> Backend:
    """The backend called ``name``: ``extractive`` or ``litellm:<model string>``.

    Raises ``UnknownBackend`` listing the valid names.
    """
    if name == "extractive":
        return ExtractiveBackend(
            embeddings,
            min_relevance=settings.extractive_min_relevance,
            max_sentences=settings.answer_max_sentences,
            annotator=annotator,
        )
    if name.startswith("litellm:"):
        from qa.answer.llm import LiteLLMBackend  # it imports this module's Turn and condensing

        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return LiteLLMBackend(
            name.removeprefix("litellm:"),
            prompts_dir=Path(settings.prompts_dir),
            api_base=settings.llm_api_base,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )
    raise UnknownBackend(f"unknown backend {name!r}; valid backends: {', '.join(BUILTIN_BACKENDS)}")
