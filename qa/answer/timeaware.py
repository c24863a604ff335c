"""Time-aware answers: "as of <date>" on facts from older articles, and the newest value first.

Runs after corroboration (:func:`qa.answer.corroborate.corroborate`), on its
per-sentence :class:`~qa.types.SentenceSources`, and changes the answer in place:

* **Updates.**  An article published *after* the cited one that reports the
  same fact with another value (a death toll, a score, a status: the verifier's
  contradiction on a number, a date or polarity, found by corroboration, or
  another value of the asked quantity, :mod:`qa.answer.values`) is an update.  The answer then *leads* with the newest such sentence, as a citation
  of its own, and keeps the older sentence after it, introduced as the earlier
  report: "As of October 4, 2022: <newest> [2]. Earlier, on September 29, 2022,
  USA Today reported: <older> [1]."  The older block lists the update in
  ``updates``; the new leading block lists the older sentence in ``earlier``;
  both carry their citation numbers.  The short answer, drawn from the older
  sentence, is dropped: it is no longer the current value.
* **As of.**  A sentence is *from an older article* when the newest article
  stating it (the cited one or a supporter) was published at least a day before
  the newest article among the answer's passages (the ``top_k`` read for the
  question, after ``as_of`` and the filters): the newer coverage of the topic
  does not repeat it, so the fact is given "as of" its date.  The answer says
  "As of <date>:" before that sentence and the block's ``as_of`` holds the date.
  Articles without a date are never "older".
* Sources that differ but were published *before* the cited article are listed in
  ``earlier``: the cited sentence is itself the update, and the answer says what
  it replaced, citing the latest of them: "... Earlier, on September 29, 2022, CNN
  reported: <older> [2]."

Nothing here retrieves: with ``as_of`` set on the question, articles published
after it never reach the passages, so they can be neither newest nor an update.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from qa.types import Answer, Citation, SentenceSources, SourceRef


def long_date(iso: str) -> str:
    """'2022-09-29' -> 'September 29, 2022' (the ISO text itself if it is no date)."""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day:%B} {day.day}, {day.year}"


def _outlet(ref: SourceRef | Citation) -> str:
    return ref.source or "an unnamed source"


def make_time_aware(answer: Answer) -> None:
    """Mark older facts "as of" their date and lead with updates (see the module docstring)."""
    if not answer.answered or not answer.sources:
        return
    dates = [p.published_at for p in answer.passages if p.published_at]
    newest = max(dates) if dates else None
    by_n = {c.n: c for c in answer.citations}
    # A sentence the answer already quotes is cited by its number, never quoted a second time.
    quoted = {(c.doc_id, c.start, c.end): c.n for c in answer.citations}
    replaced = {  # citations whose earlier value the answer already quotes as a sentence of its own
        quoted[(r.doc_id, r.start, r.end)]
        for block in answer.sources
        if (cited := by_n.get(block.citation)) is not None and cited.published_at
        for r in block.contradicted_by
        if r.published_at and r.published_at > cited.published_at and (r.doc_id, r.start, r.end) in quoted
    }
    leads: list[tuple[SentenceSources, str]] = []  # (new leading block, its text)
    for block in list(answer.sources):
        cited = by_n.get(block.citation)
        when = cited.published_at if cited else None
        if cited is None or not when:
            continue
        newer = [r for r in block.contradicted_by if r.published_at and r.published_at > when]
        block.earlier = [
            replace(r, citation=quoted.get((r.doc_id, r.start, r.end), r.citation))
            for r in block.contradicted_by
            if r.published_at and r.published_at < when
        ]
        if newer:
            lead = max(newer, key=lambda r: r.published_at or "")
            n = quoted.get((lead.doc_id, lead.start, lead.end))
            if n is None:
                leads.append(_lead_with(answer, block, cited, lead))
                # Two answer sentences updated by one newer report: it leads once, cited by both.
                quoted[(lead.doc_id, lead.start, lead.end)] = leads[-1][0].citation
            else:
                _updated_by_quoted(answer, block, cited, replace(lead, citation=n))
            continue
        prev = max(block.earlier, key=lambda r: r.published_at or "") if block.earlier else None
        if prev is not None and block.citation not in replaced and prev.citation is None:
            # The answer already quotes the newest value: it says what it replaced, with both citations
            # (an earlier value the answer quotes already is in ``earlier`` with its number, not quoted twice).
            _mention_earlier(answer, block, prev)
        stated = max([when, *(r.published_at for r in block.supported_by if r.published_at)])
        if newest and stated < newest:
            block.as_of = stated
            answer.answer = _before(answer.answer, block.sentence, f"As of {long_date(stated)}: ")
    if leads:
        answer.sources = [b for b, _ in leads] + answer.sources
        answer.answer = " ".join([*(text for _, text in leads), answer.answer])
        answer.short_answer = None


def _lead_with(
    answer: Answer, block: SentenceSources, cited: Citation, lead: SourceRef
) -> tuple[SentenceSources, str]:
    """Cite ``lead`` (the newest differing sentence) as a new citation; return its block and text."""
    n = max((c.n for c in answer.citations), default=0) + 1
    published = lead.published_at or ""
    answer.citations.append(replace(_citation(n, lead, cited.n, "a newer"), score=cited.score))
    lead = replace(lead, citation=n)
    old = SourceRef(
        cited.doc_id,
        cited.source,
        cited.published_at,
        cited.start,
        cited.end,
        cited.text,
        cited.title,
        citation=cited.n,
    )
    block.updates = [lead]
    when_old = long_date(cited.published_at or "")
    block.summary = f"{block.summary} Updated by {_outlet(lead)} on {long_date(published)} [{n}].".strip()
    answer.answer = _before(
        answer.answer, block.sentence, f"Earlier, on {when_old}, {_outlet(cited)} reported: "
    )
    new = SentenceSources(
        sentence=lead.text,
        citation=n,
        origins=1,
        summary=(
            f"{_outlet(lead)} reports this on {long_date(published)}; it updates "
            f"{_outlet(cited)}'s report of {when_old} [{cited.n}]."
        ),
        earlier=[old],
    )
    text = " ".join(lead.text.split()).rstrip(".")
    return new, f"As of {long_date(published)}: {text} [{n}]."


def _updated_by_quoted(answer: Answer, block: SentenceSources, cited: Citation, lead: SourceRef) -> None:
    """The newer value is already a sentence of the answer (citation ``lead.citation``): say the older one is earlier."""
    block.updates = [lead]
    block.summary = (
        f"{block.summary} Updated by {_outlet(lead)} on {long_date(lead.published_at or '')} [{lead.citation}]."
    ).strip()
    answer.answer = _before(
        answer.answer,
        block.sentence,
        f"Earlier, on {long_date(cited.published_at or '')}, {_outlet(cited)} reported: ",
    )


def _mention_earlier(answer: Answer, block: SentenceSources, prev: SourceRef) -> None:
    """Cite ``prev`` (the latest older report with another value) after the answer as the earlier report."""
    n = max((c.n for c in answer.citations), default=0) + 1
    answer.citations.append(_citation(n, prev, block.citation, "an older"))
    block.earlier = [replace(r, citation=n) if r is prev else r for r in block.earlier]
    text = " ".join(prev.text.split()).rstrip(".")
    when = long_date(prev.published_at or "")
    answer.answer = f"{answer.answer} Earlier, on {when}, {_outlet(prev)} reported: {text} [{n}]."


def _citation(n: int, ref: SourceRef, of: int, age: str) -> Citation:
    """A citation of ``ref``, a sentence of another article that reports citation ``of``'s fact otherwise."""
    return Citation(
        n=n,
        doc_id=ref.doc_id,
        title=ref.title,
        start=ref.start,
        end=ref.end,
        text=ref.text,
        score=0.0,
        source=ref.source,
        published_at=ref.published_at,
        checks={"verbatim": True},
        why=[
            f"Quoted from {age} article ({long_date(ref.published_at or '')}) that reports [{of}]'s fact otherwise."
        ],
    )


def _before(text: str, sentence: str, prefix: str) -> str:
    """``text`` with ``prefix`` inserted before ``sentence`` (its marker may sit before its final stop)."""
    at = text.find(sentence.rstrip(".!?”\"' "))
    return text if at < 0 or not sentence.strip() else f"{text[:at]}{prefix}{text[at:]}"
