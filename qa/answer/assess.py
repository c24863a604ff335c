"""Whether a sentence holds what a question asks for, the short answer, and how sure the answer is.

:func:`assess` scores one sentence against a question's analysis
(:func:`qa.answer.question.analyze`): relevance (from the backend), whether it
holds an answer of the expected type that the question doesn't contain, whether
it states the question's predicate (same lemma, or a word whose embedding is
close), and the share of the question's content words it covers.
:func:`confidence` maps those features through a logistic model fitted on the
dev sets (``evals/calibrate.py`` writes ``qa/answer/data/confidence.json``), so
0.8 means about 80% of such answers were right there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.answer.attachment import another_actor, around, describes, title_holder, where_it_happens
from qa.answer.evidence import EmbeddingCache, between, goes_on
from qa.answer.facts import entity_dates, fits_dimension, norm_words, other_unit, same_name
from qa.answer.nonanswers import (
    FRACTION,
    REPORTING_VERBS,
    an_age,
    asked_time,
    attribution,
    counted,
    dated_elsewhere,
    denied,
    has_number,
    in_dateline,
    in_question,
    only_may_happen,
    other_edition,
    said_when,
    stated_by_subject,
)
from qa.answer.question import (
    COUNT,
    LIGHT_QUESTION_VERBS,
    MONEY_VERBS,
    WHEN,
    QuestionInfo,
    analyze,
    names_missing,
    prepositional_use,
)
from qa.answer.short_answer import best_answer
from qa.answer.syntax import apposed, argument_of, called, conditions, holds_noun, lemma_only, near_noun
from qa.models import lexicon
from qa.models.nlp import Annotator, Ent, Sent, joined
from qa.models.words import WordVectors, relabeled
from qa.types import Answer, Citation, Question, ShortAnswer

MODEL_PATH = Path(__file__).resolve().parent / "data" / "confidence.json"
FEATURES = (
    "relevance",
    "coverage",
    "predicate",
    "typed",
    "single_answer",
    "described",
    "names_in_sentence",
    "top_passage",
    "support",
    "cited",
    "linked",
    "constraints",
)


@dataclass
class SentenceFit:
    """How well one sentence answers a question."""

    relevance: float
    coverage: float
    predicate: float  # 1 same lemma, else the embedding similarity of the closest word (0 if none)
    answers: list[Ent] = field(default_factory=list)  # entities of the expected type, not in the question
    described: bool = True  # for "which <noun>": the sentence calls an answer a <noun> (or a synonym)
    named: list[Ent] = field(default_factory=list)  # those answers
    linked: list[Ent] = field(default_factory=list)  # answers attached in the parse to the asked predicate

    @property
    def typed_answer(self) -> float:
        return 1.0 if self.answers else 0.0


def assess(
    info: QuestionInfo,
    sent: Sent,
    relevance: float,
    *,
    context: Sequence[Sent] = (),
    word_similarity: Callable[[str, Sequence[str]], list[float]] | None = None,
    min_predicate: float = 0.45,
    labels: frozenset[str] | None = None,
) -> SentenceFit:
    """How well ``sent`` answers the question ``info`` (see :class:`SentenceFit`).

    A typed answer whose own verb is another predicate than the question's
    ("killed" when asked "injured") is not an answer; nor, asked "which <noun>", a name
    of a type the corpus never calls a <noun> (``labels``: :func:`focus_labels`).
    """
    lemmas = set(sent.lemmas)
    for c in context:
        lemmas |= c.lemmas

    # A word inside a date ("last month") states no predicate.
    in_time = {i for e in sent.ents if e.label in WHEN for i in range(e.first, e.last + 1)}
    # Asked what Ukraine *called* it, "calling *for* a response" is another verb.
    stating = [
        i
        for i, t in enumerate(sent.toks)
        if i not in in_time
        and t.pos in _STATING
        and not (info.transitive and t.lemma == info.predicate and prepositional_use(sent, i))
    ]
    verbs = {argument_of(sent, e) for e in sent.ents if e.label in info.types} if info.types else set()
    # Every word an answer may hang on (the thing measured: "a 30-hour *ceasefire*") is compared;
    # the predicate is stated by a verb (or, asked for a wh-noun or a unit, a noun) of like meaning.
    words = sorted({sent.toks[i].lemma for i in stating} | verbs - {""})
    pos = {"VERB", "NOUN"} if (info.focus or info.unit) else {"VERB"}
    stated = sorted({sent.toks[i].lemma for i in stating if sent.toks[i].pos in pos} | verbs - {""})
    table: dict[tuple[str, str], float] = {}
    if word_similarity is not None and words:
        for w in (info.predicate, info.focus, info.unit, info.subject, *info.also):
            if w and not any((w, x) in table for x in words):
                for x, score in zip(words, word_similarity(w, words), strict=True):
                    table[(w, x)] = score

    if info.predicate and info.predicate not in lemmas:  # "devoured" says "ate" where "eat" is not used
        for i in stating:
            if sent.toks[i].pos == "VERB" and lexicon.kind_of(sent.toks[i].lemma, info.predicate):
                table[(info.predicate, sent.toks[i].lemma)] = 1.0

    def similar(a: str, b: str) -> float:
        return 1.0 if a == b else table.get((a, b), 0.0)

    # "What conditions...": the wh-noun is what the sentence must be about; for "which leaders"
    # it only names the type of the answer.
    wanted = [w for w in (info.predicate, *info.also, info.focus if info.kind == "open" else "") if w]
    said = {sent.toks[i].lemma for i in stating}
    if info.transitive and info.predicate in lemmas and info.predicate not in said:
        lemmas.discard(info.predicate)  # only its prepositional use: another verb, not a covered word
    coverage = len(info.content & lemmas) / len(info.content) if info.content else 0.0
    if not wanted or any(w in said for w in wanted):
        predicate = 1.0
    else:
        predicate = max((similar(w, x) for w in wanted for x in stated), default=0.0)
    answers: list[Ent] = []
    described: list[Ent] = []
    linked: list[Ent] = []
    asked = [w for w in (info.predicate, *info.also) if w]
    # What an answer must hang on in the parse: the question's predicate, or for "how long did
    # the truce last" the thing measured ("a 30-hour ceasefire").
    anchors = [*asked, info.subject] if info.kind == "quantity" and info.subject else asked
    # A sentence about another edition ("the 2014 Tour de France" asked about 2022) answers nothing.
    asked_years = asked_time(info.text).years
    share = "PERCENT" in info.types and "MONEY" not in info.types  # a fraction is a share: "one-third"
    negated = bool({"not", "n't", "never", "no"} & set(info.text.lower().replace("n't", " n't").split()))
    if info.types and not other_edition(info.years, sent):
        for ent in sent.ents:
            typed = ent.label in info.types or (
                share and ent.label == "CARDINAL" and bool(FRACTION.search(ent.text))
            )
            # The sentence's own word for it outranks the tagger's type ("the asteroid Dimorphos": PERSON).
            if not typed or not (labels is None or ent.label in labels or apposed(sent, ent, info.focus)):
                continue
            if (
                labels
                and "ORG" in labels
                and not lexicon.place_noun(info.focus)
                and where_it_happens(sent, ent)
            ):
                continue  # asked which team won, "takes place in Jeddah, Saudi Arabia" names a place
            if any(same_name(ent.text, name) for name in info.names) or ent.text.lower() in info.text.lower():
                continue
            if in_dateline(sent, ent) or (denied(sent, ent) and not negated):
                continue  # "NASHVILLE, Tenn. –" is where the story was filed; "none received 50%" no share
            if dated_elsewhere(sent, ent, asked_years):
                continue  # "lost to Naomi Osaka in the US Open final in 2018", asked about 2022
            if in_question(ent, info) or attribution(sent, ent, info):
                continue  # what the question is about, or who reported it (see qa.answer.nonanswers)
            if describes(sent, ent, info.focus):
                continue  # "U.S. and European leaders" describes the leaders asked about; it names none
            if ent.label in WHEN and info.predicate not in REPORTING_VERBS and said_when(sent, ent):
                continue  # "the hurricane center said Sunday": the day of the statement, not of the event
            if info.role and not called(sent, ent, info.role, similar):
                continue  # asked who the Astros' manager was, a name the sentence never calls a manager
            attached = not anchors or any(
                similar(w, sent.toks[k].lemma) >= min_predicate
                or (ent.label == "MONEY" and {w, sent.toks[k].lemma} <= MONEY_VERBS)  # "worth": "valued at"
                for w in anchors
                for k in around(sent, ent)
            )
            # A count of what the asked verb makes ("the number of dead climbed to 154", asked how
            # many died): the counted noun states the predicate, whatever verb the number hangs on.
            if not attached and asked and info.kind == "quantity" and ent.label in COUNT:
                made = counted(sent, ent)
                attached = bool(made) and max(similar(w, made) for w in asked) >= min_predicate
            if not attached and asked and info.kind == "quantity":  # "the recall affects 2 million"
                attached = stated_by_subject(sent, ent, asked, similar, min_predicate)
            if info.kind == "date" and ent.label in WHEN and not attached and predicate < min_predicate:
                continue  # asked when the appeal was filed, the day she arrived at the courthouse
            if (
                info.kind in {"quantity", "date"}
                and another_actor(sent, ent, info.names, info.text) is not None
            ):
                continue  # asked what Instagram was fined, "WhatsApp was fined 225 million euros"
            holder = title_holder(sent, ent)
            if (
                asked
                and holder is not None
                and not any(
                    similar(w, sent.toks[k].lemma) >= min_predicate
                    for w in asked
                    for k in around(sent, holder)
                )
            ):
                continue  # "House Speaker Nancy Pelosi": the title of someone the asked verb is not said of
            verb = argument_of(sent, ent)
            if (
                asked
                and verb
                and not attached
                and verb not in LIGHT_QUESTION_VERBS
                and max(similar(w, verb) for w in asked) < min_predicate
            ):
                continue  # the number killed is no answer to how many were injured
            # Asked how much damage, debt or prize money, a sum of money is its measure.
            if (
                info.unit
                and ent.label in COUNT | WHEN
                and not (ent.label == "MONEY" and info.wh_words[1:2] == ("much",))
            ):
                unit = counted(sent, ent)
                # The asked unit, or what the asked verb makes of it ("how many people died": deaths).
                near = max(similar(info.unit, unit), similar(info.predicate, unit)) if unit else 0.0
                people = info.unit in {"people", "person"} and lexicon.person_noun(unit)  # "156 victims"
                if (unit != info.unit and near < min_predicate and not people) or other_unit(info.unit, unit):
                    continue  # asked how many weeks, "87,000 employees" is no answer; asked miles, feet
            if info.kind == "quantity" and not fits_dimension(info.focus, sent, ent.last, counted(sent, ent)):
                continue  # asked at what speed, "55 feet" is a length
            if info.kind == "date" and ent.label in WHEN and not entity_dates(ent) and info.concrete:
                continue  # asked on what date, "half a century" is no answer
            if info.wh_words[:2] == ("how", "long") and (
                (ent.label in WHEN and entity_dates(ent))
                or ent.label not in WHEN | {"QUANTITY"}
                or not has_number(sent, ent)
            ):
                continue  # asked how long, a calendar date, a count ("eight women") or "recent months" is no duration
            if info.wh_words[:2] == ("how", "old") and not an_age(sent, ent):
                continue  # asked how old, "Sunday", "second" or "two pilots" is no age
            if not info.hedged and only_may_happen(sent, ent, anchors, similar, min_predicate):
                continue  # "could begin as early as Friday": a plan, when asked what happened or is
            if (
                info.kind == "named"
                and info.focus
                and (
                    near_noun(sent, ent, info.focus, similar)
                    or apposed(sent, ent, info.focus)
                    or holds_noun(sent, ent, info.focus)  # "the Colombia-Solidarity Bridge"
                )
            ):
                described.append(ent)  # asked which hospital, the sentence calls it a hospital
            if attached:
                linked.append(ent)
            answers.append(ent)
    if info.kind == "quantity" and info.focus:
        # Asked the magnitude or at what age, the value the sentence gives that noun ("died at the
        # age of 94", not "for more than six decades") is the answer.
        described = [
            e
            for e in answers
            if holds_noun(sent, e, info.focus) or near_noun(sent, e, info.focus, lemma_only)
        ]
    if described and info.kind == "named":
        # The name the asked noun is in apposition with ("Camp Hale, a World War II training
        # site along the Continental Divide") before one that merely sits beside it.
        described.sort(key=lambda e: not apposed(sent, e, info.focus))
    answers = described + [a for a in answers if a not in described]
    if info.kind == "date" and info.hedged and not answers:
        # "When might a location become a target?" asks under what condition: "if ..." on the asked verb.
        answers = [
            c for head, c in conditions(sent) if any(similar(w, sent.toks[head].lemma) >= 1.0 for w in asked)
        ]
        linked = list(answers)
    return SentenceFit(
        relevance, coverage, predicate, answers, bool(described) or info.kind != "named", described, linked
    )


_STATING = frozenset({"VERB", "NOUN", "ADJ"})


@lru_cache(maxsize=1)
def _model() -> dict[str, float]:
    try:
        data = json.loads(MODEL_PATH.read_text("utf-8"))
        return {k: float(v) for k, v in data["weights"].items()} | {"bias": float(data["bias"])}
    except (OSError, ValueError, KeyError):
        # Uncalibrated fallback: a plain average, so confidence still orders answers.
        return {name: 1.0 for name in FEATURES} | {"bias": -3.0}


def confidence(features: dict[str, float]) -> float:
    """The calibrated probability that an answer with these features is right."""
    model = _model()
    z = model["bias"] + sum(model.get(k, 0.0) * features.get(k, 0.0) for k in FEATURES)
    return round(1.0 / (1.0 + math.exp(-z)), 4)


def features(
    info: QuestionInfo,
    sent: Sent,
    fit: SentenceFit,
    *,
    support: float,
    cited: int,
    rank: int,
    passage: str = "",
) -> dict[str, float]:
    """The confidence model's inputs for an answer whose best cited sentence is ``sent``.

    ``rank`` is the 0-based retrieval rank of that sentence's passage, ``passage`` its text
    (with the article's title).
    """
    names = info.strict_names
    in_sentence = len(names) - len(names_missing(info, [sent.text])) if names else 0
    # Every name, date and number the question pins the answer with, in the cited passage.
    held = " ".join(norm_words(passage))
    kept = [c for c in info.constraints if " ".join(norm_words(c)) in held]
    return {
        "relevance": fit.relevance,
        "coverage": fit.coverage,
        "predicate": fit.predicate,
        "typed": 1.0 if info.types else 0.0,
        "single_answer": (1.0 / len(fit.answers)) if fit.answers else 0.0,
        "described": 1.0 if fit.described else 0.0,
        "names_in_sentence": in_sentence / len(names) if names else 1.0,
        "top_passage": 1.0 / (1 + rank),
        "support": support,
        "cited": float(min(cited, 3)) / 3,
        "linked": 1.0 if fit.linked or not info.types else 0.0,
        "constraints": len(kept) / len(info.constraints) if info.constraints else 1.0,
    }


def focus_labels(info: QuestionInfo, words: WordVectors | None) -> frozenset[str] | None:
    """Asked "which <noun>", the types the corpus names a <noun> by, else WordNet's (None: any)."""
    if info.kind != "named" or not info.focus:
        return None
    corpus = words.noun_labels(info.focus) if words is not None else None
    return corpus if corpus is not None else lexicon.noun_labels(info.focus)


def review(answer: Answer, question: Question, annotator: Annotator, embeddings: EmbeddingCache) -> bool:
    """Score a verified answer against its question; True when the answer holds nothing asked.

    Sets each citation's ``score`` (its relevance to the question, weighted by how well it
    states the question's predicate and covers its words), the answer's ``short_answer`` (a
    span of the best citation), ``features`` and calibrated ``confidence``.  Whatever the
    backend, an answer that holds nothing of what was asked is no answer: asked how many were
    injured, sentences that state no such number; asked about Kharkiv, passages never naming it.
    """
    info = analyze(annotator.annotate([question.text], persist=False)[0])
    texts = [c.text for c in answer.citations]
    vectors = embeddings.embed([question.text, *texts])
    scored: list[tuple[float, Citation, SentenceFit, Sent]] = []
    labels = focus_labels(info, embeddings.words)
    singles = relabeled(annotator.annotate(texts), embeddings.words, info.types, labels)  # see backends.read
    relevances = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
    lead: dict[int, Citation] = {}  # "She was 90." is read with the cited sentence before it
    for k, (citation, sent) in enumerate(zip(answer.citations, singles, strict=True)):
        relevance = float(relevances[k])
        prev = answer.citations[k - 1] if k else None
        if prev is not None and goes_on(prev, citation):
            lead[citation.n], gap = prev, between(answer.passages, prev.doc_id, prev.end, citation.start)
            sent, relevance = joined(singles[k - 1], gap, sent), max(relevance, float(relevances[k - 1]))
        fit = assess(info, sent, relevance, word_similarity=embeddings.word_similarity, labels=labels)
        quality = relevance * (0.5 + 0.5 * fit.predicate) * (0.5 + 0.5 * fit.coverage)
        scored.append((quality, citation, fit, sent))
    answer.citations = [replace(c, score=round(q, 4)) for q, c, _, _ in scored]
    _, best, fit, sent = max(scored, key=lambda s: (bool(s[2].answers), s[0]))  # an answer first
    start = lead[best.n].start if best.n in lead else best.start
    support = sum(c.support for c in answer.citations) / len(answer.citations)
    rank = next(
        (
            k
            for k, p in enumerate(answer.passages)
            if p.doc_id == best.doc_id and p.start <= best.start and best.end <= p.end
        ),
        len(answer.passages),
    )
    held = answer.passages[rank] if rank < len(answer.passages) else None
    answer.features = features(
        info,
        sent,
        fit,
        support=support,
        cited=len(answer.citations),
        rank=rank,
        passage=f"{held.title} {held.text}" if held else sent.text,
    )
    answer.confidence = confidence(answer.features)
    ent = best_answer(info, sent, fit)
    if ent is not None:
        n = best.n if start + ent.start >= best.start else lead[best.n].n
        answer.short_answer = ShortAnswer(ent.text, best.doc_id, start + ent.start, start + ent.end, n)
    return bool(info.types and not any(f.answers for _, _, f, _ in scored)) or bool(
        names_missing(info, [t for p in answer.passages for t in (p.text, p.title)])
    )
