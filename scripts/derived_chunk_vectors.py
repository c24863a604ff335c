"""Chunk vectors derived from sentence vectors against encoded ones: dense retrieval, side by side.

A chunk's *encoded* vector embeds its title and text as one text; its *derived* vector
(``QA_CHUNK_VECTORS=derived``) sums its distinct sentences' and its title's unit vectors,
each weighted by the square root of its word count (see qa.ingest.embed).  For every
chunk of an index this computes both, and the options measured beside them (the plain
mean of the sentence vectors; the mean mixed with the title at fixed weights; weights
by word count instead of its square root), with sentence vectors from the index when it
holds them (else embedded here) and encoded vectors embedded here.  It then ranks
articles by dense search alone for each question file's questions and prints hit@1,
hit@5 and MRR per option, with the mean and 5th-percentile cosine to encoded.

Questions come from JSONL files with ``evidence_doc_ids`` (the news set's qa.jsonl) or
``supporting`` doc ids (evals/news_corroboration.jsonl).

Usage: python scripts/derived_chunk_vectors.py index/eval-realtimeqa_news \\
    ../shared/datasets/realtimeqa_news/qa.jsonl evals/news_corroboration.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def _questions(path: Path) -> list[tuple[str, set[str]]]:
    out = []
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = set(row.get("evidence_doc_ids") or [s["doc_id"] for s in row.get("supporting") or []])
        if gold:
            out.append((row["question"], gold))
    return out


def _scores(
    q: np.ndarray, m: np.ndarray, docs: list[str], gold: list[set[str]]
) -> tuple[float, float, float]:
    sims = q @ m.T
    h1 = h5 = rr = 0.0
    for i, wanted in enumerate(gold):
        ranked: list[str] = []
        for j in np.argsort(-sims[i]):
            if docs[j] not in ranked:
                ranked.append(docs[j])
            if len(ranked) == 10:
                break
        first = next((r for r, d in enumerate(ranked) if d in wanted), None)
        if first is not None:
            h1 += first == 0
            h5 += first < 5
            rr += 1 / (first + 1)
    n = max(len(gold), 1)
    return h1 / n, h5 / n, rr / n


def main() -> None:
    from qa.ingest.chunk import embedding_text, sentence_spans
    from qa.ingest.embed import sentence_hash
    from qa.models.embedding import SentenceTransformerEmbedder

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("--weights", default="0.15,0.3,0.45", help="fixed title weights measured beside")
    args = parser.parse_args()

    db = sqlite3.connect(args.index_dir / "store.sqlite")
    model = dict(db.execute("SELECT key, value FROM meta"))["model"]
    titles = dict(db.execute("SELECT id, title FROM documents"))
    rows = db.execute("SELECT doc_id, text FROM chunks ORDER BY doc_id, ordinal").fetchall()
    stored = {
        h: np.frombuffer(v, dtype=np.float32) for h, v in db.execute("SELECT hash, vector FROM sentences")
    }
    docs = [d for d, _ in rows]
    embedder = SentenceTransformerEmbedder()
    print(f"{len(rows)} chunks of {len(titles)} articles, {len(stored)} stored sentence vectors")

    per_chunk = [[t[a:b] for a, b in sentence_spans(t)] for _, t in rows]
    lacking = sorted({s for ss in per_chunk for s in ss if sentence_hash(model, s) not in stored})
    if lacking:
        print(f"embedding {len(lacking)} sentences the index lacks")
        stored.update(
            {sentence_hash(model, s): v for s, v in zip(lacking, embedder.embed(lacking), strict=True)}
        )
    start = time.perf_counter()
    encoded = embedder.embed([embedding_text(titles[d], t) for d, t in rows])
    print(f"encoded {len(rows)} chunks in {time.perf_counter() - start:.1f} s")
    title_list = sorted(set(titles.values()))
    title_vec = dict(zip(title_list, embedder.embed(title_list), strict=True))

    def pooled(weight: Callable[[int], float], title: bool) -> np.ndarray:
        rows = []
        for (d, _), own in zip(rows_, per_chunk, strict=True):
            parts = [(s, stored[sentence_hash(model, s)]) for s in dict.fromkeys(own)]
            parts += [(titles[d], title_vec[titles[d]])] if title and titles[d] else []
            rows.append(sum(weight(len(t.split())) * _unit(v) for t, v in parts))
        return _unit(np.vstack(rows))

    rows_ = rows
    means = pooled(lambda n: 1.0, title=False)
    tvec = np.vstack([title_vec[titles[d]] for d in docs])
    options: dict[str, np.ndarray] = {
        "encoded": encoded,
        "derived (sqrt words, title)": pooled(lambda n: float(np.sqrt(max(n, 1))), title=True),
        "words, title": pooled(lambda n: float(max(n, 1)), title=True),
        "mean, no title": means,
    }
    for w in (float(x) for x in args.weights.split(",") if float(x) > 0):
        options[f"mean + title at {w:g}"] = _unit((1 - w) * means + w * tvec)
    for path in args.questions:
        qs = _questions(path)
        qv = embedder.embed([q for q, _ in qs])
        print(f"\n{path} ({len(qs)} questions), dense search alone")
        print(f"{'option':32s} {'hit@1':>6s} {'hit@5':>6s} {'MRR':>6s} {'cos mean':>9s} {'cos p5':>7s}")
        for name, m in options.items():
            h1, h5, mrr = _scores(qv, m, docs, [g for _, g in qs])
            cos = (m * encoded).sum(1)
            print(f"{name:32s} {h1:6.3f} {h5:6.3f} {mrr:6.3f} {cos.mean():9.3f} {np.percentile(cos, 5):7.3f}")


if __name__ == "__main__":
    main()
