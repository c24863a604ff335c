"""How fast can one short question be encoded on this CPU?  Options side by side, one run, interleaved.

The question encoder is most of ``/search``'s time.  Each option encodes the
same distinct news questions one at a time (no cache), on one torch thread as
``qa serve`` does, in interleaved rounds so the machine's load hits all alike:

* ``st_fp32`` / ``st_bf16``: ``SentenceTransformer.encode`` (the batch path; bf16 under autocast,
  what ``QA_EMBED_PRECISION=auto`` gave questions before);
* ``forward_fp32``: what ``SentenceTransformerEmbedder.embed`` now does for one text: the model's
  modules called directly under ``torch.inference_mode``, fp32;
* ``direct_fp32`` / ``direct_bf16``: the tokenizer and the transformer called by hand, mean
  pooling and normalization by hand (a lower bound for this model);
* ``onnx`` / ``onnx_2threads``: ONNX Runtime over the graph exported from the same model
  (``qa.models.onnx_encoder``, what ``auto`` uses on CPUs without bf16), one / two threads;
* ``openvino_bf16`` / ``openvino_bf16_2threads``: OpenVINO in bf16 over the same graph, padded to
  compiled lengths (``qa.models.openvino_encoder``, what ``auto`` uses on CPUs with bf16);
* ``*_2threads``: two torch threads instead of one.

Reports p50/p95 per option, cosine to ``st_fp32`` (min, mean) and, over a news
index, how many questions get the same dense top-10 as with ``st_fp32``.

Usage: python scripts/bench_encoder.py [--questions 100 --index DIR]
Writes bench/out/encoder.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evals.metrics import rounded_percentile  # noqa: E402
from qa.models.embedding import SentenceTransformerEmbedder  # noqa: E402


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--qa", default=str(ROOT.parent / "shared/datasets/realtimeqa_news/qa.jsonl"))
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--index", help="a news index directory for the retrieval check")
    parser.add_argument("--out", default=str(ROOT / "bench/out/encoder.json"))
    args = parser.parse_args()
    lines = Path(args.qa).read_text("utf-8").splitlines()
    questions = list(dict.fromkeys(json.loads(line)["question"] for line in lines if line.strip()))
    questions = questions[: args.questions]

    from qa.models.onnx_encoder import OnnxQuestionEncoder
    from qa.models.openvino_encoder import OpenVinoEncoder

    st = SentenceTransformerEmbedder(precision="fp32", question_runtime="torch")
    st_bf16 = SentenceTransformerEmbedder(precision="bf16", question_runtime="torch")
    model = st._get_model()
    st_bf16._model = model
    tokenizer, bert = model.tokenizer, model[0].auto_model
    max_len = int(model.max_seq_length)

    def direct(text: str, bf16: bool) -> np.ndarray:
        feats = tokenizer([text], return_tensors="pt", truncation=True, max_length=max_len)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            hidden = bert(**feats).last_hidden_state
        mask = feats["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = ((hidden * mask).sum(1) / mask.sum(1)).float()
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def reference(text: str) -> np.ndarray:
        return st._encode_one(model, text)

    onnx_1 = OnnxQuestionEncoder.load(model, reference, threads=1)
    onnx_2 = OnnxQuestionEncoder.load(model, reference, threads=2)
    options: dict[str, Callable[[str], np.ndarray]] = {
        "st_fp32": lambda q: st._encode(model, [q], 1),
        "st_bf16": lambda q: st_bf16._encode(model, [q], 1),
        "forward_fp32": lambda q: st.embed([q]),
        "direct_fp32": lambda q: direct(q, False),
        "direct_bf16": lambda q: direct(q, True),
    }
    if onnx_1 is not None and onnx_2 is not None:
        options["onnx"] = onnx_1.encode
        options["onnx_2threads"] = onnx_2.encode
    for n_threads, suffix in ((1, ""), (2, "_2threads")):
        vino = OpenVinoEncoder.load(model, reference, threads=n_threads)
        if vino is not None:
            options[f"openvino_bf16{suffix}"] = vino.encode
    threads = {name: 1 for name in options}
    for name in ("st_fp32", "forward_fp32"):
        options[f"{name}_2threads"] = options[name]
        threads[f"{name}_2threads"] = 2
    for fn in options.values():
        fn("warm up")
    times: dict[str, list[float]] = {name: [] for name in options}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for q_n, q in enumerate(questions):
            for name, fn in options.items():
                torch.set_num_threads(threads[name])
                start = time.perf_counter()
                v = fn(q)
                times[name].append((time.perf_counter() - start) * 1000)
                vectors.setdefault(name, np.zeros((len(questions), v.shape[-1]), np.float32))[q_n] = (
                    v.reshape(-1)
                )
    torch.set_num_threads(1)
    ref = vectors["st_fp32"]
    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "questions": len(questions),
        "rounds": args.rounds,
    }
    store = None
    if args.index:
        from qa.store import Store

        class Dims:
            name, dimension = st.name, int(ref.shape[1])

        store = Store(Path(args.index), Dims())  # type: ignore[arg-type]
        want = [[i for i, _ in store.snapshot().dense(v, 10)] for v in ref]
    rows = {}
    for name, lat in times.items():
        cos = (vectors[name] * ref).sum(axis=1)
        row: dict[str, object] = {
            "p50_ms": round(statistics.median(lat), 2),
            "p95_ms": rounded_percentile(lat, 95, 2),
            "cosine_min": round(float(cos.min()), 6),
            "cosine_mean": round(float(cos.mean()), 6),
        }
        if store is not None:
            got = [[i for i, _ in store.snapshot().dense(v, 10)] for v in vectors[name]]
            row["same_dense_top10"] = round(
                sum(a == b for a, b in zip(want, got, strict=True)) / len(want), 3
            )
        rows[name] = row
        print(name, row, file=sys.stderr)
    base = rows["st_fp32"]["p50_ms"]
    for row in rows.values():
        row["speedup_vs_st_fp32"] = round(float(base) / float(row["p50_ms"]), 2)  # type: ignore[arg-type]
    results["options"] = rows
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
