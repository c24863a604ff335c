"""Measure ways to get sentence vectors cheaper than embedding every sentence alone.

Answering ranks and verifies sentences by cosine to the question and to claims,
so a cheaper sentence vector is only usable if it stays close to the real one
(the sentence embedded alone).  For a sample of news chunks this prints, per
option, the seconds spent and the cosine to the real vectors:

* ``alone``: every distinct sentence embedded on its own (what ingest stores);
* ``pooled``: mean of the chunk pass's own token embeddings over each sentence's
  tokens (free once the chunk is encoded: the chunk pass yields them);
* ``alone_bf16``: the real thing under bf16 autocast (see qa.models.embedding).

Usage: python scripts/sentence_vector_options.py [--articles 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import torch

    from qa.ingest.chunk import chunk_article, embedding_text, sentence_spans
    from qa.ingest.load import Problem, load_articles
    from qa.models.embedding import SentenceTransformerEmbedder

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default="../shared/datasets/realtimeqa_news/corpus.jsonl")
    parser.add_argument("--articles", type=int, default=40)
    args = parser.parse_args()

    articles = [a for a in load_articles([Path(args.corpus)]) if not isinstance(a, Problem)][: args.articles]
    chunks = [(a, c) for a in articles for c in chunk_article(a, 120, 1)]
    fp32 = SentenceTransformerEmbedder(precision="fp32")
    bf16 = SentenceTransformerEmbedder(precision="bf16")
    model = fp32._get_model()
    bf16._model = model
    tokenizer = model.tokenizer
    fp32.embed(["warm up"])

    # The real vectors: each distinct sentence alone.
    sentences: list[str] = []
    where: list[tuple[int, int, int]] = []  # (chunk index, start in embedding text, end)
    for n, (a, c) in enumerate(chunks):
        text = embedding_text(a.title, c.text)
        offset = text.index(c.text)
        for s, e in sentence_spans(c.text):
            sentences.append(c.text[s:e])
            where.append((n, offset + s, offset + e))
    distinct = list(dict.fromkeys(sentences))
    start = time.perf_counter()
    real = dict(zip(distinct, fp32.embed(distinct, batch_size=64), strict=True))
    alone_s = time.perf_counter() - start
    start = time.perf_counter()
    real_bf16 = dict(zip(distinct, bf16.embed(distinct, batch_size=64), strict=True))
    alone_bf16_s = time.perf_counter() - start

    # Pooled: one chunk pass returning token embeddings, then a mean over each sentence's tokens.
    texts = [embedding_text(a.title, c.text) for a, c in chunks]
    start = time.perf_counter()
    tokens = model.encode(texts, batch_size=16, output_value="token_embeddings", show_progress_bar=False)
    chunk_pass_s = time.perf_counter() - start
    start = time.perf_counter()
    pooled: list[np.ndarray] = []
    for n, s, e in where:
        enc = tokenizer(
            texts[n], return_offsets_mapping=True, truncation=True, max_length=model.max_seq_length
        )
        rows = [i for i, (ts, te) in enumerate(enc["offset_mapping"]) if te > ts and ts >= s and te <= e]
        emb = tokens[n]
        vec = emb[rows].mean(0) if rows else torch.zeros(emb.shape[1])
        pooled.append(torch.nn.functional.normalize(vec.float(), dim=0).numpy())
    pool_s = time.perf_counter() - start

    cos_pooled = [float(np.dot(p, real[sentences[i]])) for i, p in enumerate(pooled)]
    cos_bf16 = [float(np.dot(real_bf16[t], real[t])) for t in distinct]
    print(f"{len(chunks)} chunks, {len(sentences)} sentences ({len(distinct)} distinct)")
    print(f"alone fp32:  {alone_s:.1f} s")
    print(
        f"alone bf16:  {alone_bf16_s:.1f} s  cosine to fp32 mean {statistics.mean(cos_bf16):.5f} "
        f"min {min(cos_bf16):.5f}"
    )
    print(
        f"pooled:      {pool_s:.1f} s on top of a {chunk_pass_s:.1f} s chunk pass; cosine to real "
        f"mean {statistics.mean(cos_pooled):.4f} p5 {np.percentile(cos_pooled, 5):.4f} min {min(cos_pooled):.4f}"
    )


if __name__ == "__main__":
    main()
