"""Score the verifier on labelled claims: the rules alone and with the learned check, before and after.

Usage: python evals/verifier_claims.py [--claims evals/verifier_claims.jsonl] [--corpus PATH]

Each row of the claims file is ``{claim, supported, kind, doc_id, evidence}``.  The
claim is checked, as an LLM's answer sentence citing ``[1]`` would be, against its
article as passage 1 (the seed article, or an article of the news corpus read
from ``../shared``).  The verifier judges every candidate evidence sentence (the
rules, the support score, the learned ``p(entailed)``), so the decision under any
thresholds follows from :func:`qa.answer.verify.passes` without re-running it.
Printed: a sweep over ``QA_ANSWER_MIN_SUPPORT`` for the rules alone; kept/dropped
per kind for the rules alone ("before") and with the learned check at the
configured thresholds ("after"); a sweep over ``QA_VERIFIER_LEARNED_MIN``; and
the verifier's p50 time per claim in each mode, measured by running it as
configured.  Writes ``evals/out/verifier/claims.json`` and ``threshold.png``.
The learned check was trained on other articles (every doc_id here is excluded
from its training data), so these claims are held out for it; thresholds are
chosen on its own held-out split, not on these claims.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from qa.answer.verify import MIN_CLAIM_STEMS, passes
from qa.config import Settings
from qa.pipeline import Pipeline
from qa.text import content_stems
from qa.types import Passage

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"


def load_articles(corpus: Path) -> dict[str, tuple[str, str]]:
    """doc id -> (title, text) for the seed articles and, if present, the news corpus."""
    out: dict[str, tuple[str, str]] = {}
    for meta in (ROOT / "seeds").glob("*.meta.json"):
        info = json.loads(meta.read_text("utf-8"))
        text = meta.with_name(meta.name.replace(".meta.json", ".txt")).read_text("utf-8")
        out[info["id"]] = (info.get("title", ""), text)
    if corpus.exists():
        for line in corpus.read_text("utf-8").splitlines():
            row = json.loads(line)
            out[row["id"]] = (row.get("title", ""), row["text"])
    return out


def run(
    claims: list[dict], articles: dict[str, tuple[str, str]], substitution: float | None = None
) -> list[dict]:
    """Verify every claim at threshold 0, judging every candidate; record each one's rules, support and p."""
    pipeline = Pipeline(
        Settings(
            index_dir=Path(tempfile.mkdtemp()) / "index",
            answer_min_support=0.0,
            verifier_model="learned",
            verifier_learned_min=0.0,
            verifier_learned_rescue=1.01,
        )
    )
    pipeline.verifier.exhaustive = True
    if substitution is not None:
        pipeline.verifier.substitution_min = substitution
    rows = []
    for c in claims:
        if c["doc_id"] not in articles:
            print(f"skipped (article {c['doc_id']} not found): {c['claim']}", file=sys.stderr)
            continue
        title, text = articles[c["doc_id"]]
        passage = Passage(0, c["doc_id"], title, "", None, 0, len(text), text, 1.0)
        start = time.perf_counter()
        verified = pipeline.verifier.verify(f"{c['claim']} [1]", [passage])
        ms = (time.perf_counter() - start) * 1000
        sentence = verified.sentences[0] if verified.sentences else None
        rows.append(
            {
                **c,
                "checks_pass": bool(sentence and sentence.supported),
                "support": sentence.support if sentence else 0.0,
                "label": sentence.label if sentence else "not_stated",
                "why": sentence.judgement.reasons if sentence and sentence.judgement else [],
                "chosen": sentence.evidence.text if sentence and sentence.evidence else "",
                "verbatim": bool(
                    sentence and sentence.judgement and sentence.judgement.checks.get("verbatim")
                ),
                "verifiable": len(set(content_stems(c["claim"]))) >= MIN_CLAIM_STEMS,
                "tried": sentence.tried if sentence else [],
                "ms": round(ms, 1),
            }
        )
    return rows


def decide(row: dict, min_support: float, learned_min: float | None = None, rescue: float = 1.01) -> bool:
    """Whether the verifier keeps the claim at these thresholds (``learned_min`` None: the rules alone)."""
    if row["verbatim"]:
        return True
    if not row["verifiable"]:
        return False
    return any(
        passes(s, rules, None if learned_min is None else p, min_support, learned_min or 0.0, rescue)
        for s, rules, p in row["tried"]
    )


def table(rows: list[dict], kept_if: Callable[[dict], bool]) -> tuple[float, float, str]:
    """Share of supported kept and unsupported dropped, and a per-kind table."""
    counts: Counter[tuple[bool, str, bool]] = Counter()
    for r in rows:
        counts[(r["supported"], r["kind"], kept_if(r))] += 1
    lines = [f"{'kind':<14} {'supported':>9} {'kept':>5} {'dropped':>8}"]
    for supported in (True, False):
        for kind in sorted({k for s, k, _ in counts if s == supported}):
            kept, dropped = counts[(supported, kind, True)], counts[(supported, kind, False)]
            lines.append(f"{kind:<14} {supported!s:>9} {kept:>5} {dropped:>8}")
    true_total = sum(v for (s, _, _), v in counts.items() if s)
    false_total = sum(v for (s, _, _), v in counts.items() if not s)
    kept_true = sum(v for (s, _, k), v in counts.items() if s and k) / max(1, true_total)
    dropped_false = sum(v for (s, _, k), v in counts.items() if not s and not k) / max(1, false_total)
    return kept_true, dropped_false, "\n".join(lines)


def side_by_side(before: str, after: str) -> str:
    """Two per-kind tables in columns: rules alone | with the learned check."""
    a, b = before.splitlines(), after.splitlines()
    out = [f"{'':<14} {'':>9} {'rules alone':>14}   {'with learned':>14}"]
    for x, y in zip(a, b, strict=True):
        out.append(f"{x}   {y[25:]}")
    return "\n".join(out)


def timings(
    claims: list[dict], articles: dict[str, tuple[str, str]], settings: Settings
) -> tuple[float, list[bool]]:
    """The verifier as configured (stopping at the first passing candidate): p50 ms per claim, decisions."""
    pipeline = Pipeline(settings)
    ms, kept = [], []
    for n, c in enumerate(claims):
        title, text = articles[c["doc_id"]]
        passage = Passage(0, c["doc_id"], title, "", None, 0, len(text), text, 1.0)
        if n == 0:  # models load on first use: not part of a claim's time
            pipeline.verifier.verify("The models are warmed up here [1].", [passage])
        start = time.perf_counter()
        kept.append(pipeline.verifier.verify(f"{c['claim']} [1]", [passage]).answered)
        ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(ms), kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", default=str(ROOT / "evals" / "verifier_claims.jsonl"))
    parser.add_argument("--corpus", default=str(NEWS), help="the news corpus.jsonl (read, never copied)")
    settings = Settings()
    parser.add_argument("--threshold", type=float, default=settings.answer_min_support)
    parser.add_argument("--learned-min", type=float, default=settings.verifier_learned_min)
    parser.add_argument("--learned-rescue", type=float, default=settings.verifier_learned_rescue)
    parser.add_argument("--out", default=str(ROOT / "evals" / "out" / "verifier"))
    parser.add_argument(
        "--substitution",
        type=float,
        help="the predicate check's substitution threshold (default: the verifier's)",
    )
    args = parser.parse_args(argv)
    claims = [json.loads(line) for line in Path(args.claims).read_text("utf-8").splitlines() if line.strip()]
    articles = load_articles(Path(args.corpus))
    rows = run(claims, articles, args.substitution)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    thresholds = [round(0.30 + 0.025 * i, 3) for i in range(17)]
    sweep = [(t, *table(rows, lambda r, t=t: decide(r, t))[:2]) for t in thresholds]
    print("rules alone: QA_ANSWER_MIN_SUPPORT  kept_supported  dropped_unsupported")
    for t, kept, dropped in sweep:
        print(f"{t:9.3f}  {kept:14.3f}  {dropped:19.3f}")
    before = table(rows, lambda r: decide(r, args.threshold))
    after = table(rows, lambda r: decide(r, args.threshold, args.learned_min, args.learned_rescue))
    learned_sweep = [round(0.05 * i, 2) for i in range(20)]
    print(
        f"\nwith the learned check (rescue at {args.learned_rescue}): QA_VERIFIER_LEARNED_MIN  kept  dropped"
    )
    for m in learned_sweep:
        k, d, _ = table(rows, lambda r, m=m: decide(r, args.threshold, m, args.learned_rescue))
        print(f"{m:9.2f}  {k:14.3f}  {d:19.3f}")
    print(
        f"\nbefore (rules, QA_ANSWER_MIN_SUPPORT={args.threshold}): supported kept {before[0]:.3f}, "
        f"unsupported dropped {before[1]:.3f}"
    )
    print(
        f"after (learned, min {args.learned_min}, rescue {args.learned_rescue}): supported kept "
        f"{after[0]:.3f}, unsupported dropped {after[1]:.3f}"
    )
    print(side_by_side(before[2], after[2]))
    used = [c for c in claims if c["doc_id"] in articles]
    index_dir = Path(tempfile.mkdtemp()) / "index"
    base = {"index_dir": index_dir, "answer_min_support": args.threshold}
    rules_ms, _ = timings(used, articles, Settings(**base, verifier_model="rules"))
    learned_ms, kept = timings(
        used,
        articles,
        Settings(
            **base,
            verifier_model="learned",
            verifier_learned_min=args.learned_min,
            verifier_learned_rescue=args.learned_rescue,
        ),
    )
    expected = [decide(r, args.threshold, args.learned_min, args.learned_rescue) for r in rows]
    agree = sum(a == b for a, b in zip(kept, expected, strict=True))
    print(
        f"verify p50 ms per claim (whole article as the passage): rules {rules_ms:.0f}, learned {learned_ms:.0f}"
    )
    print(f"the verifier as configured agrees with the sweep on {agree}/{len(rows)} claims")
    for r in rows:
        r["kept_rules"] = decide(r, args.threshold)
        r["kept_learned"] = decide(r, args.threshold, args.learned_min, args.learned_rescue)
    (out / "claims.json").write_text(json.dumps(rows, indent=1) + "\n")
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    left.plot([t for t, _, _ in sweep], [k for _, k, _ in sweep], label="supported kept")
    left.plot([t for t, _, _ in sweep], [d for _, _, d in sweep], label="unsupported dropped")
    left.axvline(args.threshold, color="grey", linestyle=":")
    left.set_xlabel("QA_ANSWER_MIN_SUPPORT (rules alone)")
    left.set_ylim(0, 1.02)
    left.legend()
    learned_rows = [
        table(rows, lambda r, m=m: decide(r, args.threshold, m, args.learned_rescue)) for m in learned_sweep
    ]
    right.plot(learned_sweep, [k for k, _, _ in learned_rows], label="supported kept")
    right.plot(learned_sweep, [d for _, d, _ in learned_rows], label="unsupported dropped")
    right.axvline(args.learned_min, color="grey", linestyle=":")
    right.set_xlabel(f"QA_VERIFIER_LEARNED_MIN (support >= {args.threshold} or p >= {args.learned_rescue})")
    right.set_ylim(0, 1.02)
    right.legend()
    fig.savefig(out / "threshold.png", dpi=100, bbox_inches="tight")
    print(f"wrote {out / 'claims.json'} and {out / 'threshold.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
