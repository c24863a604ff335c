"""The plain-language line of one answer sentence's sources (:mod:`qa.answer.corroborate`).

"Reported by CNN and USA Today.", "2 CNN articles carry the same report.", "CNN reports
“...”; USA Today, published a day later, reports “...”." Copies of one text
(:class:`qa.ingest.dedup.OriginIndex`) count as one origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from qa.ingest.dedup import OriginIndex
from qa.types import SourceRef

MAX_QUOTE = 160


def origin_groups(origins: OriginIndex | None, refs: Sequence[SourceRef]) -> list[list[SourceRef]]:
    by_id = {r.doc_id: r for r in refs}
    ids = list(by_id)
    grouped = origins.groups(ids) if origins is not None else [[d] for d in ids]
    return [[by_id[d] for d in group] for group in grouped]


def _outlet(ref: SourceRef) -> str:
    return ref.source or "an unnamed source"


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _when(ref: SourceRef, cited: SourceRef) -> str:
    """'published a day later', '3 days earlier', 'the same day', or '' when a date is missing."""
    try:
        days = (
            date.fromisoformat(ref.published_at or "") - date.fromisoformat(cited.published_at or "")
        ).days
    except ValueError:
        return ""
    if days == 0:
        return "published the same day"
    n = abs(days)
    span = "a day" if n == 1 else f"{n} days"
    return f"published {span} {'later' if days > 0 else 'earlier'}"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1].rstrip() + '…'}”"


def summarize(
    cited: SourceRef,
    supported: Sequence[SourceRef],
    contradicted: Sequence[SourceRef],
    origins: OriginIndex | None,
) -> str:
    """The plain-language line of one sentence's sources."""
    parts: list[str] = []
    groups = origin_groups(origins, [cited, *supported])
    if not supported and cited.source:
        parts.append(f"Only {cited.source} reports this among the articles retrieved.")
    elif not supported:
        parts.append("No other article retrieved reports this.")
    else:
        # One origin per group of copies; outlets named once, with how many independent articles.
        counts: dict[str, int] = {}
        for group in groups:
            counts[_outlet(group[0])] = counts.get(_outlet(group[0]), 0) + 1
        names = [name if n == 1 else f"{name} ({n} articles)" for name, n in counts.items()]
        parts.append(f"Reported by {_join(names)}.")
        for group in groups:
            if len(group) > 1:
                outlets = sorted({_outlet(r) for r in group})
                who = f"{len(group)} {outlets[0]} articles" if len(outlets) == 1 else f"{len(group)} outlets"
                parts.append(f"{who} carry the same report.")
    for other in contradicted[:2]:
        same = _outlet(other) == _outlet(cited)
        who = f"another {_outlet(other)} article" if same else _outlet(other)
        when = _when(other, cited)
        parts.append(
            f"{_outlet(cited)} reports {_quote(cited.text)}; {who}{', ' + when + ',' if when else ''}"
            f" reports {_quote(other.text)}."
        )
    return " ".join(parts)
