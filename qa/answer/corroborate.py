"""Who else reports each answer sentence, and who reports it otherwise: corroboration across articles.

Runs after verification (:meth:`Pipeline._finish`), on the sentences the
verifier kept.  For each one, the sentences of the *other* retrieved articles
(the answer's passages and a few more retrieved for this, ``QA_CORROBORATE_PASSAGES``,
and more sentences of each of those articles, :mod:`qa.answer.reread`)
are scored against it like the verifier scores evidence, and the best
``QA_CORROBORATE_MAX_JUDGED`` (at most ``PER_ARTICLE`` per article, so the budget
reaches several outlets; ranked by closeness to the cited sentence or to the question)
are judged with the verifier's entailment checks
(:func:`qa.answer.entail.judge`), in both directions (the other sentence may
state the fact with less or more detail than the cited one):

* entailed either way -> ``supported_by``;
* for the sentence that holds the answer (its short answer, or else its names of
  the type the question asks for: a person for "who", a count for "how many"; asked
  "what was the magnitude", the value beside "magnitude"):
  a sentence that names the same answer (aliases and accents aside), is close
  enough to the cited sentence (``MIN_CORE_SCORE``) or to the asked fact (the
  question and the answer, ``MIN_FACT_SCORE``) and contradicts it in neither
  direction -> ``supported_by`` (other articles rarely repeat every detail of the
  cited sentence: its weekday, its venue);
* a sentence that states all the cited sentence states but a date (not stated only for
  a date it lacks, none differing) -> ``supported_by``, unless the question asks a date
  or the answer has a name the sentence lacks;
* contradicted on a number, a date or polarity (the checks that compare the
  same slot; a role or a name alone is too brittle across outlets) by a sentence
  close enough to be about the same fact -> ``contradicted_by``;
* for a quantity question, the first sentence whose value of the asked quantity is
  known (its own, else its article's, :mod:`qa.answer.values`): other articles
  stating another value -> ``contradicted_by``, the same value -> ``supported_by``
  (if the sentence itself holds it).

Facts are matched by meaning, never by string equality.  Articles that are
copies of each other (:class:`qa.ingest.dedup.OriginIndex`) count as one origin,
and each block carries a plain-language line (:mod:`qa.answer.sources_line`): "Reported by
CNN and USA Today.", "2 CNN articles carry the same report.", "CNN reports ...; USA Today,
published a day later, reports ...".

Two articles published days apart date one event differently ("Thursday" / "last
Thursday, Aug. 4"): a lone weekday is read against each article's date before dates are
compared (:func:`qa.answer.article_dates.dated`), and a weekday alone never makes a contradiction.
A dateline, credit or kicker ("WASHINGTON –", "VISUAL EXPLAINER:") is no part of the fact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qa.answer.cores import cores as cores_of
from qa.answer.cores import lemma_words, lemmas_of, names
from qa.answer.entail import CONTRADICTED, NOT_STATED, Judgement, future, judge
from qa.answer.evidence import Candidate, candidates, read_on
from qa.answer.nonanswers import after_asked_day, another_times_news, asked_time
from qa.answer.question import analyze
from qa.answer.reread import Articles, more_of_articles
from qa.answer.sources_line import origin_groups, summarize
from qa.answer.syntax import hedged
from qa.answer.values import Statement, agreeing, asked_measure, differing, statements, value_in
from qa.answer.verify import MIN_CLAIM_STEMS, Verified, Verifier
from qa.config import Settings
from qa.ingest.dedup import OriginIndex
from qa.models.nlp import Sent
from qa.text import content_stems, undated
from qa.types import Answer, Passage, SentenceSources, SourceRef

# (text, its vector, how many) -> passages, under the question's filters and as_of.
FactSearch = Callable[[str, np.ndarray, int], list[Passage]]

# Cited sentences searched with (the first ones: the answer's own) when looking for other outlets.
MAX_FACT_SEARCHES = 2
# Least support score (lexical + cosine) a sentence needs to be judged at all, and to count as
# contradicting: a different number in a sentence about something else is no disagreement.
MIN_SCORE = 0.35
MIN_CONTRADICTION_SCORE = 0.6  # to the cited sentence, or to the asked fact
MIN_CORE_SCORE = 0.5
# ... or this close to the asked fact (the question and its short answer) when it names the answer.
MIN_FACT_SCORE = 0.4
# Sentences judged per other article at most (the best first), so the budget reaches more outlets.
PER_ARTICLE = 2
# A cited sentence that says someone plans or intends it reports a plan, as "will" does.
PLANS = frozenset({"plan", "intend", "propose", "schedule"})
# Two outlets word one fact differently: the support check's bar is lower than for a draft's claim.
MIN_SUPPORT = 0.5


def corroborate(
    verified: Verified,
    answer: Answer,
    passages: Sequence[Passage],
    verifier: Verifier,
    origins: OriginIndex | None,
    settings: Settings,
    question: str = "",
    articles: Articles | None = None,
    search_fact: FactSearch | None = None,
) -> list[SentenceSources]:
    """One :class:`SentenceSources` per kept sentence of ``answer`` (verified as ``verified``), in order.

    ``passages`` are the answer's passages and any more retrieved for corroboration;
    ``question`` (the question as asked) also ranks the other articles' sentences: one that
    states the asked fact in other words may share little wording with a long cited sentence.
    ``articles`` (the store): more sentences of each retrieved article are read
    (``corroborate_article_sentences``, :mod:`qa.answer.reread`).  ``search_fact(text,
    vector, n)``: ``n`` passages retrieved with a cited sentence itself
    (``corroborate_fact_passages``), where other outlets state the fact in their own words.
    """
    short_answer, max_judged = answer.short_answer, settings.corroborate_max_judged
    read = len(passages)  # sentences read beyond these may support a fact, not dispute it
    if articles is not None and settings.corroborate_article_sentences:
        asked = verifier.embeddings.embed([t for t in [question, *(c.text for c in answer.citations)] if t])
        per_article, known = settings.corroborate_article_sentences, verifier.embeddings.known
        more = more_of_articles(passages, articles, list(asked), per_article, known)
        passages = [*passages, *more]
    if search_fact is not None and settings.corroborate_fact_passages:
        passages = [*passages, *fact_passages(answer, passages, verifier, search_fact, settings)]
    question_sent = verifier.annotator.annotate([question], persist=False)[0] if question else None
    info = analyze(question_sent) if question_sent is not None else None
    by_span = {(c.doc_id, c.start, c.end): c for c in answer.citations}
    sentences = read_on(candidates(passages, pairs=False), passages, verifier.annotator, MIN_CLAIM_STEMS)
    pool = [c for c in sentences if len(content_stems(c.text)) >= MIN_CLAIM_STEMS]
    # Asked about a year or a day, another time's news (or, asked the value of a day, a later day's
    # article) may restate the fact, but it does not dispute or update it.
    when = asked_time(question)
    late = {
        (c.doc_id, c.start, c.end)
        for c in pool
        if another_times_news(when, c.text, c.before, passages[c.passage - 1].published_at)
        or after_asked_day(when, passages[c.passage - 1].published_at)
    }
    # The asked value as each article states it (a quantity question only): where updates show.
    measure = asked_measure(info, question_sent) if info and question_sent else None
    stated = (
        statements(question, measure, [c for c in pool if c.passage <= read], verifier, passages)
        if measure
        else {}
    )
    dates = {p.doc_id: p.published_at for p in passages}
    asks_date = info is not None and info.kind == "date"
    valued = (
        False  # the asked value is compared for the first sentence that states it (or whose article does)
    )
    out: list[SentenceSources] = []
    seen: set[str] = set()
    for sentence in verified.sentences:
        ev = sentence.evidence
        if not sentence.supported or ev is None:
            continue
        normalized = " ".join(sentence.text.lower().split())
        citation = by_span.get((ev.doc_id, ev.start, ev.end))
        if normalized in seen or citation is None:
            continue
        seen.add(normalized)
        others = [c for c in pool if c.doc_id != ev.doc_id]
        cores = cores_of(
            short_answer.text if short_answer and short_answer.citation == citation.n else None,
            undated(ev.text),
            info,
            verifier,
        )
        fact = f"{question} {' '.join(cores)}".strip()
        # The asked fact's vector from vectors already at hand (the question's, from retrieval, and
        # the cited sentence's, stored at ingest): no model call per answer for a new text.
        asked, cited = verifier.embeddings.embed([question, sentence.text])
        fact_vector = (asked + cited) / max(float(np.linalg.norm(asked + cited)), 1e-9)
        supported, contradicted = _judge_all(
            sentence.text,
            ev,
            others,
            passages,
            verifier,
            max_judged,
            cores,
            fact,
            fact_vector,
            asks_date,
            read,
            late,
        )
        if measure and stated and not valued:
            parsed = verifier.annotator.annotate([ev.text], persist=False)[0]
            own = value_in(parsed, measure, verifier, passages[ev.passage - 1].published_at)
            mine = Statement(ev, own, 1.0) if own is not None else stated.get(ev.doc_id)
            if mine is not None:
                valued = True
                taken = {r.doc_id for r in (*supported, *contradicted)}
                current = {
                    d: s for d, s in stated.items() if (s.cand.doc_id, s.cand.start, s.cand.end) not in late
                }
                contradicted += [
                    _ref(s.cand, passages)
                    for s in differing(mine, current, dates, verifier, question, origins)
                    if s.cand.doc_id not in taken
                ]
                if own is not None:  # other articles that state the cited sentence's value support it
                    taken |= {r.doc_id for r in contradicted}
                    supported += [
                        _ref(s.cand, passages)
                        for s in agreeing(mine, stated, verifier, question)
                        if s.cand.doc_id not in taken
                    ]
        cited = _ref(ev, passages)
        out.append(
            SentenceSources(
                sentence=sentence.text,
                citation=citation.n,
                supported_by=supported,
                contradicted_by=contradicted,
                origins=len(origin_groups(origins, [cited, *supported])),
                summary=summarize(cited, supported, contradicted, origins),
            )
        )
    return out


def fact_passages(
    answer: Answer,
    passages: Sequence[Passage],
    verifier: Verifier,
    search_fact: FactSearch,
    settings: Settings,
) -> list[Passage]:
    """Passages of articles not yet read, retrieved with each cited sentence itself.

    The cited sentence's vector was stored at ingest, so this costs a search, not an encoding.
    """
    texts = list(dict.fromkeys(c.text for c in answer.citations))[:MAX_FACT_SEARCHES]
    if not texts:
        return []
    read = {p.doc_id for p in passages}
    out: dict[int, Passage] = {}
    for text, vector in zip(texts, verifier.embeddings.embed(texts), strict=True):
        for p in search_fact(text, vector, settings.corroborate_fact_passages):
            if p.doc_id not in read:
                out.setdefault(p.chunk_id, p)
    return list(out.values())


def _judge_all(
    claim: str,
    cited: Candidate,
    others: Sequence[Candidate],
    passages: Sequence[Passage],
    verifier: Verifier,
    max_judged: int,
    cores: Sequence[str] = (),
    fact: str = "",
    fact_vector: np.ndarray | None = None,
    asks_date: bool = False,
    disputes: int = 0,  # only the first ``disputes`` passages' sentences may contradict (0: all)
    late: set[tuple[str, int, int]] | frozenset[tuple[str, int, int]] = frozenset(),  # may not contradict
) -> tuple[list[SourceRef], list[SourceRef]]:
    if not others or max_judged <= 0:
        return [], []
    given = {fact: fact_vector} if fact and fact_vector is not None else None
    scores = verifier.score([claim, fact] if fact else [claim], others, given)
    # A candidate ranks by its closeness to the cited sentence or to the asked fact (the question
    # and its short answer), whichever is higher; the entailment checks then decide.
    rank = scores.max(axis=0)
    order = [i for i in sorted(range(len(others)), key=lambda i: -rank[i]) if rank[i] >= MIN_SCORE]
    supported: dict[str, SourceRef] = {}
    contradicted: dict[str, SourceRef] = {}
    judged: dict[str, int] = {}
    claim_sent, cited_sent = verifier.annotator.annotate([undated(claim), undated(cited.text)], persist=False)
    planned = _prospective(claim_sent)  # "said he planned to charge $8": "will charge $8" states it
    core_lemmas = _core_lemmas(cores, cited_sent, verifier)
    for i in order:
        cand = others[i]
        # The judging budget is spread over articles: a long article's many close sentences
        # would otherwise use it all and leave the other outlets unjudged.
        if cand.doc_id in supported or judged.get(cand.doc_id, 0) >= PER_ARTICLE:
            continue
        if sum(judged.values()) >= max_judged:
            break
        judged[cand.doc_id] = judged.get(cand.doc_id, 0) + 1
        title = passages[cand.passage - 1].title or "-"
        text = undated(cand.text)
        evidence, before, title_sent = verifier.annotator.annotate(
            [text, cand.before or "-", title], persist=False
        )
        score = float(scores[0, i])
        dates = (passages[cited.passage - 1].published_at, passages[cand.passage - 1].published_at)
        forward = _judge(verifier, claim_sent, evidence, [before, title_sent], score, dates)
        backward = _judge(verifier, evidence, cited_sent, [], score, (dates[1], dates[0]))
        differs = _differs(forward) or _differs(backward)
        close = score >= MIN_CORE_SCORE or (fact != "" and float(scores[1, i]) >= MIN_FACT_SCORE)
        states_core = close and any(names(core, evidence, lemmas) for core, lemmas in core_lemmas)
        # All the cited sentence states but a date (its weekday, its day): an omitted detail is
        # no other fact, unless a date is what was asked, or the answer is not named.
        omits = not asks_date and _omits_date(forward) and (states_core or not cores)
        # A sentence that says the event may happen, or is yet to ("will give voters the chance
        # to legalize"), states no fact the cited one reports as done, however much it shares.
        yet = not forward.checks.get("hedges", True) and not planned
        if not yet and (forward.entailed or backward.entailed or omits or (states_core and not differs)):
            supported[cand.doc_id] = _ref(cand, passages)
            contradicted.pop(cand.doc_id, None)
        elif (
            differs
            and (cand.doc_id, cand.start, cand.end) not in late
            and cand.passage <= (disputes or cand.passage)
            and max(score, float(scores[-1, i])) >= MIN_CONTRADICTION_SCORE
        ):
            contradicted.setdefault(cand.doc_id, _ref(cand, passages))
    return list(supported.values()), list(contradicted.values())


def _core_lemmas(cores: Sequence[str], cited: Sent, verifier: Verifier) -> list[tuple[str, str]]:
    """Each core with its lemmas: read from the cited sentence's parse where the core is its words
    (no parse at question time), else from a parse of the core alone."""
    out: dict[str, str] = {}
    for core in cores:
        at = cited.text.find(core)
        toks = [t for t in cited.toks if at <= t.start and t.end <= at + len(core)] if at >= 0 else []
        if toks and toks[0].start == at and toks[-1].end == at + len(core):
            out[core] = lemmas_of(toks)
    rest = [core for core in cores if core not in out]
    for core, parsed in zip(rest, verifier.annotator.annotate(rest, persist=False), strict=True):
        out[core] = lemma_words(parsed)
    return [(core, out[core]) for core in cores]


def _prospective(sent: Sent) -> bool:
    """The sentence's main predicate (its root, and the clauses that report or complete it) is a
    plan, under "will", or hedged: it reports nothing as done."""
    toks = sent.toks
    heads = [i for i, t in enumerate(toks) if t.head == i]
    for _ in range(3):
        if any(toks[i].lemma in PLANS or hedged(sent, i) or future(sent, i) for i in heads):
            return True
        heads = [c for i in heads for c in sent.children(i) if toks[c].dep in {"ccomp", "xcomp"}]
    return False


def _differs(judgement: Judgement) -> bool:
    """Contradicted on a value: a count or a date (not a weekday: articles a day apart say "Monday"
    for the same day), or polarity; a role, a name or an ordinal alone is too brittle across outlets."""
    if judgement.label != CONTRADICTED:
        return False
    if judgement.checks.get("polarity") is False:
        return True
    # "'35 people' but the evidence says '52'" (same unit, another value); "the date 'day:3' differs".
    # The same value with another unit ("31 people" / "31 men") is no disagreement between outlets.
    return any(
        "but the evidence says" in reason
        or ("differs" in reason and "weekday" not in reason and "'year:" not in reason)
        for reason in judgement.reasons
    )


def _omits_date(judgement: Judgement) -> bool:
    """Not stated only because a date of the claim is not in the evidence (none differs)."""
    failed = {check for check, ok in judgement.checks.items() if not ok}
    return (
        judgement.label == NOT_STATED
        and failed == {"dates"}
        and all("is not in the evidence" in reason for reason in judgement.reasons)
    )


def _judge(
    verifier: Verifier,
    claim: Sent,
    evidence: Sent,
    context: list[Sent],
    score: float,
    published: tuple[str | None, str | None] = (None, None),
) -> Judgement:
    return judge(
        claim,
        evidence,
        context=context,
        support=score,
        min_support=MIN_SUPPORT,
        # No substitution test: it embeds new sentences (a model call per judgement), too slow here.
        similarity=None,
        published=published,
    )


def _ref(cand: Candidate, passages: Sequence[Passage]) -> SourceRef:
    p = passages[cand.passage - 1]
    return SourceRef(cand.doc_id, p.source, p.published_at, cand.start, cand.end, cand.text, p.title)
