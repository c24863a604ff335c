"""bf16 against fp32 on the news set, one run: encode seconds, cosine, retrieval hit@1/5.

The guard for QA_EMBED_PRECISION.  Builds two indexes of the same sub-corpus
(the evidence articles of the first ``--questions`` questions plus other
articles up to ``--articles``), one per precision, and asks those questions
with their as-of dates through the real Retriever (hybrid and dense), scoring
document hit@k as ``qa eval`` does.  The full ``qa eval`` of both precisions is
the stronger check; this one fits a shared machine's afternoon.

Usage: python scripts/precision_guard.py [--articles 150 --questions 80]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from qa.answer.retrieve import Filters, Retriever
    from qa.config import Settings
    from qa.evals.metrics import document_rank
    from qa.ingest.load import Problem, load_articles
    from qa.models.embedding import SentenceTransformerEmbedder
    from qa.pipeline import write_articles
    from qa.store import Store

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/datasets/realtimeqa_news/corpus.jsonl"))
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--out", default=str(ROOT / "bench/out/precision.json"))
    args = parser.parse_args()

    corpus = Path(args.corpus)
    lines = (corpus.parent / "qa.jsonl").read_text("utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    items = [i for i in items if i.get("evidence_doc_ids")][: args.questions]
    gold = {d for i in items for d in i["evidence_doc_ids"]}
    articles = [a for a in load_articles([corpus]) if not isinstance(a, Problem)]
    chosen = [a for a in articles if a.id in gold]
    chosen += [a for a in articles if a.id not in gold][: max(0, args.articles - len(chosen))]

    fp32 = SentenceTransformerEmbedder(precision="fp32")
    bf16 = SentenceTransformerEmbedder(precision="bf16")
    bf16._model = fp32._get_model()  # one model, two precisions
    fp32.embed(["warm up"])
    bf16.embed(["warm up"])
    results: dict[str, object] = {"articles": len(chosen), "questions": len(items)}
    stored: dict[str, np.ndarray] = {}
    for name, embedder in (("fp32", fp32), ("bf16", bf16)):
        index = Store(Path(tempfile.mkdtemp(prefix=f"qa-{name}-")), embedder, create=True)
        start = time.perf_counter()
        report = write_articles(
            index, embedder, chosen, Settings(index_dir=index.dir, sentence_vectors=False)
        )
        seconds = time.perf_counter() - start
        rows = index.records.conn().execute("SELECT vector FROM chunks ORDER BY id").fetchall()
        stored[name] = np.vstack([np.frombuffer(r[0], dtype=np.float32) for r in rows])
        retriever = Retriever(index, embedder.embed, rrf_k=10)
        row: dict[str, object] = {"ingest_s": round(seconds, 1), "chunks": report.chunks_embedded}
        for mode in ("hybrid", "dense"):
            ranks = []
            for item in items:
                passages = retriever.search(
                    item["question"], 10, filters=Filters(as_of=item.get("question_date")), mode=mode
                )
                ranks.append(document_rank(passages, item["evidence_doc_ids"]))
            row[f"{mode}_hit@1"] = round(sum(1 for r in ranks if r is not None and r <= 1) / len(ranks), 3)
            row[f"{mode}_hit@5"] = round(sum(1 for r in ranks if r is not None and r <= 5) / len(ranks), 3)
        results[name] = row
        print(name, row, file=sys.stderr)
    cosine = (stored["fp32"] * stored["bf16"]).sum(axis=1)
    results["cosine_bf16_fp32"] = {
        "mean": round(float(cosine.mean()), 6),
        "min": round(float(cosine.min()), 6),
    }
    fp, bf = results["fp32"], results["bf16"]
    assert isinstance(fp, dict) and isinstance(bf, dict)
    results["speedup_bf16"] = round(fp["ingest_s"] / bf["ingest_s"], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
