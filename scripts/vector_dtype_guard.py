"""float32 against float16 stored vectors on the news index, one run: retrieval hit@k, same passages, sizes.

The guard for QA_VECTOR_DTYPE.  Copies an index's ``store.sqlite`` to a
temporary directory, opens it with a float32 FAISS base, asks every news
question with an evidence document (with its as-of date, hybrid and dense,
through the real Retriever, scoring document hit@k as ``qa eval`` does), then
reopens it with ``float16=True`` (the base is rebuilt from SQLite's float32
vectors as a float16 scalar quantizer) and asks again.  Answers are built
from the retrieved passages and SQLite's float32 sentence vectors, so where
every question gets the same passages in the same order the answer metrics
are unchanged by construction; the share of such questions is reported.

Usage: python scripts/vector_dtype_guard.py [--index index/index/eval-realtimeqa_news]
Writes bench/out/vector_dtype.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from qa.answer.retrieve import Filters, Retriever
    from qa.evals.metrics import document_rank
    from qa.models.embedding import SentenceTransformerEmbedder, set_torch_threads
    from qa.store import Store

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", default=str(ROOT / "index/index/eval-realtimeqa_news"))
    parser.add_argument("--qa", default=str(ROOT.parent / "shared/datasets/realtimeqa_news/qa.jsonl"))
    parser.add_argument("--out", default=str(ROOT / "bench/out/vector_dtype.json"))
    args = parser.parse_args()

    items = [json.loads(line) for line in Path(args.qa).read_text("utf-8").splitlines() if line.strip()]
    items = [i for i in items if i.get("evidence_doc_ids")]
    work = Path(tempfile.mkdtemp(prefix="qa-dtype-"))
    shutil.copy2(Path(args.index) / "store.sqlite", work / "store.sqlite")
    embedder = SentenceTransformerEmbedder()
    set_torch_threads(1)
    # One at a time, as a server encodes them (one text: the fp32 single-question path).
    vectors = {i["question"]: embedder.embed([i["question"]])[0] for i in items}

    class Cached:  # the same question vectors for both dtypes: only the stored vectors differ
        name, dimension = embedder.name, embedder.dimension

        def embed_query(self, text: str):  # type: ignore[no-untyped-def]
            return vectors[text]

        def embed(self, texts, **_: object):  # type: ignore[no-untyped-def]
            import numpy as np

            return np.vstack([vectors[t] for t in texts])

    results: dict[str, object] = {"questions": len(items), "index": args.index}
    top: dict[str, dict[str, list[list[int]]]] = {}
    for dtype in ("float32", "float16"):
        start = time.perf_counter()
        index = Store(work, Cached(), float16=dtype == "float16")  # type: ignore[arg-type]
        open_s = time.perf_counter() - start
        retriever = Retriever(index, Cached().embed, rrf_k=10)
        (base,) = work.glob("vectors.*.faiss")
        row: dict[str, object] = {
            "open_s": round(open_s, 2),
            "chunks": index.snapshot().size,
            "faiss_file_mb": round(base.stat().st_size / 2**20, 2),
        }
        top[dtype] = {}
        for mode in ("hybrid", "dense"):
            ranks, lists, lat = [], [], []
            for item in items:
                t = time.perf_counter()
                passages = retriever.search(
                    item["question"], 10, filters=Filters(as_of=item.get("question_date")), mode=mode
                )
                lat.append((time.perf_counter() - t) * 1000)
                lists.append([p.chunk_id for p in passages])
                ranks.append(document_rank(passages, item["evidence_doc_ids"]))
            for k in (1, 5):
                row[f"{mode}_hit@{k}"] = round(
                    sum(1 for r in ranks if r is not None and r <= k) / len(ranks), 4
                )
            row[f"{mode}_p50_ms"] = round(sorted(lat)[len(lat) // 2], 2)
            top[dtype][mode] = lists
        results[dtype] = row
        index.close()
        print(dtype, row, file=sys.stderr)
    for mode in ("hybrid", "dense"):
        a, b = top["float32"][mode], top["float16"][mode]
        results[f"{mode}_same_top5"] = round(
            sum(x[:5] == y[:5] for x, y in zip(a, b, strict=True)) / len(a), 4
        )
        results[f"{mode}_same_top10"] = round(sum(x == y for x, y in zip(a, b, strict=True)) / len(a), 4)
    shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
