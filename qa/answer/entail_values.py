"""The entailment checks on values (:mod:`qa.answer.entail`): numbers with their units and qualifiers, and dates."""

from __future__ import annotations

import re

from qa.answer.article_dates import dated
from qa.answer.facts import Quantity, entity_dates, governor, quantities, same_amount
from qa.answer.judgement import CONTRADICTED, NOT_STATED, Judgement
from qa.answer.syntax import any_same
from qa.models.nlp import Sent

# A value given per unit of time ("$8 a month", "$19.99 per month", "$8/month"): a rate, not a sum.
_PER_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year"})
_PER = frozenset({"a", "an", "per", "each", "every", "/"})
PER_TIME = re.compile(
    r"\b(?:a|an|per|each|every)\s+(?:second|minute|hour|day|week|month|year)\b"
    r"|/\s*(?:second|minute|hour|day|week|month|year)\b|\b(?:hourly|daily|weekly|monthly|annually|yearly)\b",
    re.IGNORECASE,
)


def per_time(sent: Sent, q: Quantity) -> bool:
    """The value is given per unit of time ("$8 a month", "$8/month")."""
    last = q.index + len(q.text.split()) - 1
    after = [t.lemma.lower() for t in sent.toks[last + 1 : last + 3]]
    return len(after) == 2 and after[0] in _PER and after[1] in _PER_UNITS


def check_numbers(claim: Sent, evidence: Sent, result: Judgement) -> None:
    have = quantities(evidence)
    ok = True
    for q in quantities(claim):
        # One value written twice, or within rounding when either is approximate ("nearly $25
        # billion" / "$24.6 billion").
        same_value = [h for h in have if h.ordinal == q.ordinal and same_amount(q, h, exact=1e-6)]
        same_unit = [
            h
            for h in have
            if h.ordinal == q.ordinal
            and q.unit
            and h.unit == q.unit
            and h.qualifier != "approx"
            # "$8 a month" and "$44 billion" measure two things (a fee, a price): no disagreement.
            and per_time(evidence, h) == per_time(claim, q)
        ]
        # The evidence's figure for the same actor and verb ("Stripe ... cutting 14%") decides, even
        # when another actor's figure has the claim's value ("Lyft ... axing 13%").
        claim_verb, claim_subject = governor(claim, q.index)
        own = [
            h
            for h in same_unit
            if claim_subject and _same_actor(governor(evidence, h.index), claim_verb, claim_subject)
        ]
        if own and not any(h in same_value for h in own):
            result.fail(
                "numbers",
                f"'{q.text} {q.unit}' but the evidence says '{own[0].text}' for {claim_subject}",
                CONTRADICTED,
            )
            ok = False
            continue
        if same_value:
            # Another unit for the same value contradicts only when the claim's unit is nowhere in
            # the evidence ("30-day" against "30-hour"); "money" matches any currency noun.
            if (
                q.unit
                and q.unit != "money"
                and q.unit not in evidence.lemmas
                and all(
                    h.unit and h.unit not in {q.unit, "money"} and not _compound(h.unit, q.unit)
                    for h in same_value
                )
            ):
                h = same_value[0]
                result.fail(
                    "numbers", f"'{q.text} {q.unit}' but the evidence has '{h.text} {h.unit}'", CONTRADICTED
                )
                ok = False
            elif any({q.qualifier, h.qualifier} == {"lower", "upper"} for h in same_value):
                result.fail("numbers", f"'{q.text}' is qualified the other way in the evidence", CONTRADICTED)
                ok = False
            else:
                claim_verb, claim_subject = governor(claim, q.index)
                governed = [governor(evidence, h.index) for h in same_value]
                subjects = {subject for verb, subject in governed if verb == claim_verb}
                if (
                    claim_subject
                    and subjects
                    and "" not in subjects
                    and not any_same({claim_subject}, subjects)
                ):
                    result.fail(
                        "roles",
                        f"'{q.text}' belongs to {', '.join(sorted(subjects))} in the evidence",
                        CONTRADICTED,
                    )
                    ok = False
        elif len({h.value for h in same_unit}) == 1:
            result.fail(
                "numbers", f"'{q.text} {q.unit}' but the evidence says '{same_unit[0].text}'", CONTRADICTED
            )
            ok = False
        elif same_unit:
            # Several other amounts of the unit ("up to $10,000 ... or $20,000 for ..."): which one is in
            # the claim's slot is not known, so the claim's amount is not stated, not contradicted.
            result.fail("numbers", f"'{q.text} {q.unit}' is none of the evidence's amounts", NOT_STATED)
            ok = False
        elif q.ordinal or q.text.lower() == "one":
            continue  # "first", "last", "one of": rarely the claim's point, and often paraphrased
        else:
            result.fail("numbers", f"the number '{q.text}' is not in the evidence", NOT_STATED)
            ok = False
    result.checks["numbers"] = ok


def _compound(a: str, b: str) -> bool:
    """One unit is a compound of the other ("earthquake" / "quake", "airstrike" / "strike")."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and long.endswith(short)


def _same_actor(governed: tuple[str, str], verb: str, subject: str) -> bool:
    return governed[0] == verb and bool(governed[1]) and any_same({subject}, {governed[1]})


def check_dates(
    claim: Sent,
    evidence: Sent,
    aligned: dict[int, int],
    result: Judgement,
    published: tuple[str | None, str | None] = (None, None),
) -> None:
    claim_dates, claim_read = dated(claim, published[0])
    if not claim_dates:
        return
    evidence_dates, evidence_read = dated(evidence, published[1])
    ok = True
    for atom in sorted(claim_dates):
        kind = atom.split(":")[0]
        if atom not in evidence_dates:
            ok = False
            # A date read from a weekday says so ("weekday" in the reason): a weaker disagreement.
            read = (
                " (read from a weekday)"
                if atom in claim_read or kind in {a.split(":")[0] for a in evidence_read}
                else ""
            )
            if any(a.startswith(kind + ":") for a in evidence_dates):
                result.fail("dates", f"the date '{atom}' differs from the evidence's{read}", CONTRADICTED)
            else:
                result.fail("dates", f"the date '{atom}' is not in the evidence{read}", NOT_STATED)
            continue
        # The date must belong to the same actor: "Aziz ... in 1985; Islam ... in 1987".
        claim_gov = [governor(claim, e.first) for e in claim.ents if atom in entity_dates(e)]
        verbs = {verb for verb, _ in claim_gov}
        # ... and the evidence's verb in the claim verb's slot ("freed" / "released").
        verbs |= {evidence.toks[j].lemma for i, j in aligned.items() if claim.toks[i].lemma in verbs}
        claim_subjects = {subject for _, subject in claim_gov if subject}
        evidence_subjects = {
            subject
            for verb, subject in (
                governor(evidence, e.first) for e in evidence.ents if atom in entity_dates(e)
            )
            if verb in verbs or not verb
        }
        if (
            claim_subjects
            and evidence_subjects
            and "" not in evidence_subjects
            and not any_same(claim_subjects, evidence_subjects)
        ):
            ok = False
            result.fail(
                "roles",
                f"'{atom}' belongs to {', '.join(sorted(evidence_subjects))} in the evidence",
                CONTRADICTED,
            )
    result.checks["dates"] = ok
