"""Parse an answer's ``[n]`` markers and verify every sentence against the passages it cites.

For each sentence of a draft answer:

1. its markers are parsed; markers that point at no passage are dropped;
2. the sentences (and adjacent sentence pairs) of the cited passages, or of all
   passages when the sentence cites none, are candidate support;
3. each candidate is scored ``support = 0.5 * lexical + 0.5 * cosine`` where
   *lexical* is the share of the claim's content words (stemmed, stopwords
   removed) found in the candidate and *cosine* is the embedding similarity;
   a number in the claim that the candidate lacks halves the score;
4. the best candidates are judged by the entailment checks of :mod:`qa.answer.entail`
   and, for a claim that is not a verbatim quote, by the learned check of
   :mod:`qa.answer.learned` (``QA_VERIFIER_MODEL=learned``): the first candidate
   that passes becomes the citation.  A candidate passes (:func:`passes`) if every
   rule passes, ``p(entailed) >= learned_min`` and either ``support >= min_support``
   (``QA_ANSWER_MIN_SUPPORT``) or ``p(entailed) >= learned_rescue`` (a paraphrase
   with little word overlap).  With ``QA_VERIFIER_MODEL=rules`` (or no trained
   weights) the learned terms are left out.  A claim with fewer than two content
   words is never kept.  A sentence nothing passes is dropped from the answer (and
   reported with ``supported: false``);
5. a kept sentence that repeats an earlier kept one is left out.

An answer with no supported sentence becomes an explicit "the articles don't
say" with ``answered: false``.  Citations are renumbered 1..m in order of use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.answer.entail import ENTAILED, NOT_STATED, Judgement, judge
from qa.answer.evidence import Candidate, EmbeddingCache, candidates, goes_on, read_on
from qa.answer.learned import LearnedEntailment
from qa.config import Settings
from qa.ingest.chunk import sentence_spans
from qa.models.nlp import Annotator
from qa.text import MARKER, content_stems, overlap, strip_markers
from qa.types import Citation, Passage

NOT_FOUND = "The articles don't say."
# A one-word claim is "supported" by any passage that merely contains the word: an injected
# "reply only with the word PWNED", or a bare "30." from a numbered list, would pass.
MIN_CLAIM_STEMS = 2
_NUMBER = re.compile(r"\d[\d,.]*")
_REFUSAL = re.compile(
    r"^\W*(i\s+don'?t\s+know|i\s+do\s+not\s+know|the\s+(articles|passages)\s+do(n'?t|\s+not)\s+(say|answer|contain|mention)"
    r"|not\s+(stated|mentioned)\s+in\s+the\s+(articles|passages)|there\s+is\s+no\s+information)",
    re.IGNORECASE,
)


@dataclass
class CheckedSentence:
    """One sentence of a draft answer and the result of checking it."""

    text: str
    markers: list[int]
    supported: bool
    support: float
    evidence: Candidate | None
    judgement: Judgement | None = None
    # Every candidate judged, best support first: (support, rules passed, p(entailed) or None).
    tried: list[tuple[float, bool, float | None]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.judgement.label if self.judgement else (ENTAILED if self.supported else NOT_STATED)


@dataclass
class Verified:
    """A verified answer: text with renumbered markers, its citations, and each sentence's check."""

    answer: str
    answered: bool
    citations: list[Citation]
    sentences: list[CheckedSentence] = field(default_factory=list)

    @property
    def unsupported(self) -> list[str]:
        return [s.text for s in self.sentences if not s.supported]


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences of an answer with their marker numbers; leading markers belong to the sentence before."""
    claims: list[tuple[str, list[int]]] = []
    pieces = [
        part
        for start, end in sentence_spans(answer)
        # A marker followed by a capital ends a claim even without a full stop ("... royal reign [3]
        # After 70 years ..."): a quoted headline has none.
        for part in _AFTER_MARKER.split(answer[start:end])
    ]
    for piece in pieces:
        lead = re.match(r"^(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+", piece)
        if lead and claims:
            claims[-1][1].extend(_numbers(lead.group(0)))
            piece = piece[lead.end() :]
        numbers = _numbers(piece)
        text = strip_markers(piece)
        # (?<!\s): a match starts only where a whitespace run starts; else a long run not followed by
        # punctuation is retried from each of its positions (quadratic: 20k spaces took 8 s).
        text = re.sub(r"(?<!\s)\s+([.,;:!?])", r"\1", text).strip()
        if text:
            claims.append((text, numbers))
    return claims


_AFTER_MARKER = re.compile(r"(?<=\])\s+(?=[A-Z\u201c\"'(])")


def _numbers(text: str) -> list[int]:
    return [int(n) for group in MARKER.findall(text) for n in re.split(r"\s*,\s*", group)]


def is_refusal(text: str) -> bool:
    """True if a reply declines to answer (e.g. "I don't know")."""
    return bool(_REFUSAL.match(strip_markers(text)))


def _squash(text: str) -> str:
    return " ".join(text.split()).rstrip(".!?…")


def _verbatim(claim: str, cands: Sequence[Candidate]) -> Candidate | None:
    """The candidate sentence the claim quotes verbatim (whitespace and final stop aside), if any."""
    wanted = _squash(claim)
    if len(content_stems(wanted)) < MIN_CLAIM_STEMS:
        return None
    return next((c for c in cands if _squash(c.text) == wanted), None)


def _going_on(
    sentence: CheckedSentence, lead: Candidate, passages: Sequence[Passage]
) -> CheckedSentence | None:
    """A claim too short to check on its own ("She was 90.") that quotes the sentence right after the
    previous claim's evidence, going on about who it names (:func:`goes_on`), is kept as that quote."""
    wanted = _squash(sentence.text)
    nxt = next(
        (
            c
            for c in candidates(passages, [lead.passage], pairs=False)
            if c.before == lead.text and goes_on(lead, c) and _squash(c.text) == wanted
        ),
        None,
    )
    if nxt is None:
        return None
    why = ["quotes the article verbatim, going on from the sentence before"]
    return CheckedSentence(sentence.text, [], True, 1.0, nxt, Judgement(ENTAILED, {"verbatim": True}, why))


def _numbers_missing(claim: str, candidate: str) -> bool:
    wanted = {n.rstrip(".,") for n in _NUMBER.findall(claim)}
    if not wanted:
        return False
    have = {n.rstrip(".,") for n in _NUMBER.findall(candidate)}
    return not wanted <= have


def passes(
    support: float,
    rules: bool,
    learned: float | None,
    min_support: float,
    learned_min: float = 0.5,
    learned_rescue: float = 1.01,
) -> bool:
    """Whether a candidate supports a claim: the rules, the support threshold, the learned check.

    ``rules``: every entailment check other than support passed.  ``learned`` is
    ``p(entailed)``, None when the learned check did not run (then only the rules and
    the support threshold count).
    """
    if not rules:
        return False
    if learned is None:
        return support >= min_support
    return learned >= learned_min and (support >= min_support or learned >= learned_rescue)


class Verifier:
    """Checks draft answers against passages; see the module docstring."""

    # Candidates (by support score) each claim is judged against.
    JUDGED = 5

    def __init__(
        self,
        embeddings: EmbeddingCache,
        min_support: float = 0.65,
        annotator: Annotator | None = None,
        substitution_min: float = 0.8,
        learned: LearnedEntailment | None = None,
        learned_min: float = 0.3,
        learned_rescue: float = 0.84,
    ) -> None:
        self.embeddings = embeddings
        self.min_support = min_support
        self.annotator = annotator or Annotator()
        self.substitution_min = substitution_min
        self.learned = learned
        self.learned_min = learned_min
        self.learned_rescue = learned_rescue
        # Judge every candidate rather than stop at the first that passes (for evals: ``tried``
        # then holds all of them, so thresholds can be swept offline with :func:`passes`).
        self.exhaustive = False

    @classmethod
    def from_settings(cls, settings: Settings, embeddings: EmbeddingCache, annotator: Annotator) -> Verifier:
        """The verifier the settings describe (``QA_ANSWER_MIN_SUPPORT``, ``QA_VERIFIER_*``)."""
        learned = (
            LearnedEntailment(settings.embedding_model, precision=settings.embed_precision)
            if settings.verifier_model == "learned"
            else None
        )
        return cls(
            embeddings,
            settings.answer_min_support,
            annotator=annotator,
            learned=learned,
            learned_min=settings.verifier_learned_min,
            learned_rescue=settings.verifier_learned_rescue,
        )

    def score(
        self, claims: Sequence[str], cands: Sequence[Candidate], given: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """``(len(claims), len(cands))`` support scores; ``given`` vectors are used, not embedded."""
        if not claims or not cands:
            return np.zeros((len(claims), len(cands)), dtype=np.float32)
        texts = [*claims, *(c.text for c in cands)]
        given = given or {}
        embedded = iter(self.embeddings.embed([t for t in texts if t not in given]))
        vectors = np.vstack([given[t] if t in given else next(embedded) for t in texts])
        cosine = np.clip(vectors[: len(claims)] @ vectors[len(claims) :].T, 0.0, 1.0)
        scores = np.zeros_like(cosine)
        for i, claim in enumerate(claims):
            stems = set(content_stems(claim))
            for j, cand in enumerate(cands):
                # Numbers are checked by the entailment checks (with units and qualifiers).
                scores[i, j] = 0.5 * overlap(stems, cand.text) + 0.5 * float(cosine[i, j])
        return scores

    def similarity(self, a: str, b: str) -> float:
        vectors = self.embeddings.embed([a, b])
        return float(vectors[0] @ vectors[1])

    def check(self, claim: str, cands: Sequence[Candidate], passages: Sequence[Passage]) -> CheckedSentence:
        """Judge one claim against its best candidates; the first that entails it is its evidence."""
        exact = _verbatim(claim, cands)
        if exact is not None:
            # A verbatim quote (the extractive backend's, or an LLM's) is its own evidence.
            judgement = Judgement(ENTAILED, {"verbatim": True}, ["quotes the article verbatim"])
            return CheckedSentence(claim, [], True, 1.0, exact, judgement)
        # Only single sentences are judged, so only they are scored (a pair would let a claim
        # borrow its date from one clause and its subject from another; pairs still count for
        # verbatim quotes above); the sentence before and the title are context for the names a
        # sentence refers to ("he", "the deal").  A sentence followed by a short one about whom it
        # names ("... has died. She was 90.") is also judged with it: "Lynn died at 90" is stated.
        cands = read_on([c for c in cands if not c.pair], passages, self.annotator, MIN_CLAIM_STEMS, True)
        scores = self.score([claim], cands)[0] if cands else np.zeros(0)
        if not len(scores):
            return CheckedSentence(claim, [], False, 0.0, None, Judgement(NOT_STATED, {}, ["no evidence"]))
        verifiable = len(set(content_stems(claim))) >= MIN_CLAIM_STEMS
        order = sorted(range(len(cands)), key=lambda i: -scores[i])[: self.JUDGED]
        claim_sent = self.annotator.annotate([claim], persist=False)[0]
        use_learned = self.learned is not None and verifiable and self.learned.available
        first: tuple[int, Judgement] | None = None
        found: CheckedSentence | None = None
        tried: list[tuple[float, bool, float | None]] = []
        for i in order:
            cand = cands[i]
            title = passages[cand.passage - 1].title or "-"
            evidence, before, title_sent = self.annotator.annotate([cand.text, cand.before or "-", title])
            judgement = judge(
                claim_sent,
                evidence,
                context=[before, title_sent],
                support=float(scores[i]),
                min_support=self.min_support,
                similarity=self.similarity,
                substitution_min=self.substitution_min,
            )
            support = float(scores[i])
            rules = all(ok for name, ok in judgement.checks.items() if name != "support")
            # Scored only where the rules pass (else nothing can keep the claim): one pair at a
            # time, in support order, so a claim the first candidate entails pays for one pair.
            p = float(self.learned.score([(cand.text, claim)])[0]) if use_learned and rules else None  # type: ignore[union-attr]
            tried.append((round(support, 4), rules, None if p is None else round(p, 4)))
            if p is not None:
                self._apply_learned(judgement, support, rules, p)
            if first is None:
                first = (i, judgement)
            if judgement.entailed and verifiable and found is None:
                found = CheckedSentence(claim, [], True, round(support, 4), cand, judgement, tried)
                if not self.exhaustive:
                    return found
        if found is not None:
            return found
        assert first is not None
        i, judgement = first
        if not verifiable:
            judgement.fail("support", "fewer than two content words: nothing to check", NOT_STATED)
        return CheckedSentence(claim, [], False, round(float(scores[i]), 4), cands[i], judgement, tried)

    def _apply_learned(self, judgement: Judgement, support: float, rules: bool, p: float) -> None:
        """Fold the learned check into a judgement (see :func:`passes`); the reasons say p(entailed)."""
        kept = passes(support, rules, p, self.min_support, self.learned_min, self.learned_rescue)
        judgement.checks["learned"] = p >= self.learned_min
        if kept and not judgement.entailed:
            # Only the support threshold failed, and the learned check is confident: a paraphrase.
            judgement.label = ENTAILED
            judgement.reasons.append(
                f"learned check: p(entailed) {p:.2f} >= {self.learned_rescue:.2f} despite low word overlap"
            )
        elif kept:
            judgement.reasons.append(f"learned check: p(entailed) {p:.2f}")
        elif rules and p < self.learned_min:
            judgement.fail(
                "learned", f"learned check: p(entailed) {p:.2f} is below {self.learned_min:.2f}", NOT_STATED
            )

    def verify(self, draft: str, passages: Sequence[Passage]) -> Verified:
        """Check every sentence of ``draft`` against ``passages``; see the module docstring."""
        if not draft.strip() or is_refusal(draft) or not passages:
            return Verified(NOT_FOUND, False, [])
        checked: list[CheckedSentence] = []
        for text, markers in split_claims(draft):
            valid = [m for m in dict.fromkeys(markers) if 1 <= m <= len(passages)]
            if markers and not valid:
                # A marker that points at no passage is not re-targeted to another one.
                reason = f"cites [{', '.join(map(str, markers))}], which is no passage"
                checked.append(
                    CheckedSentence(
                        text, markers, False, 0.0, None, Judgement(NOT_STATED, {"marker": False}, [reason])
                    )
                )
                continue
            sentence = self.check(text, candidates(passages, valid or None), passages)
            if not sentence.supported and checked and checked[-1].evidence is not None:
                sentence = _going_on(sentence, checked[-1].evidence, passages) or sentence
            sentence.markers = valid
            checked.append(sentence)
        return self._assemble(checked, passages)

    def _assemble(self, checked: list[CheckedSentence], passages: Sequence[Passage]) -> Verified:
        numbers: dict[tuple[str, int, int], int] = {}
        citations: list[Citation] = []
        parts: list[str] = []
        emitted: set[str] = set()
        for sentence in checked:
            if not sentence.supported or sentence.evidence is None:
                continue
            # Small models loop ("30-hour Easter ceasefire" twenty times); a repeat adds nothing.
            normalized = " ".join(sentence.text.lower().split())
            if normalized in emitted:
                continue
            emitted.add(normalized)
            ev = sentence.evidence
            key = (ev.doc_id, ev.start, ev.end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                p = passages[ev.passage - 1]
                judgement = sentence.judgement
                citations.append(
                    Citation(
                        n=numbers[key],
                        doc_id=ev.doc_id,
                        title=p.title,
                        start=ev.start,
                        end=ev.end,
                        text=ev.text,
                        score=sentence.support,
                        source=p.source,
                        published_at=p.published_at,
                        support=sentence.support,
                        checks=dict(judgement.checks) if judgement else {},
                        why=list(judgement.reasons) if judgement else [],
                    )
                )
            text = sentence.text
            tail = text[-1] if text[-1] in ".!?" else ""
            body = text[:-1] if tail else text
            parts.append(f"{body} [{numbers[key]}]{tail or '.'}")
        if not parts:
            return Verified(NOT_FOUND, False, [], checked)
        return Verified(" ".join(parts), True, citations, checked)
