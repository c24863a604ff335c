"""Bulk-load the synthetic archive of ``scripts/bench_scale.py``: SQLite rows, vectors and BM25 written directly.

Growing an index to a million chunks through the write path tokenizes every
chunk with bm25s and builds the delta segments one write at a time; on a
shared 2-core machine that takes hours, and it is not what the scale run
measures (one-article writes, searches, memory and disk *at* each size).  This
loader writes the same rows the write path would (documents, chunks with
vectors, one generation bump per block, explicit never-reused chunk ids) and
the BM25 base segment (``keywords.<gen>.npz``) the store then restores from, so
a cold open of the grown index goes through the real load and validation code.

Synthetic articles are the real corpus's sentences drawn at random (seeded)
under a real title, ~600 words each, chunked as :func:`qa.ingest.chunk.chunk_article`
does (120 words, one sentence of overlap).  A chunk's BM25 tokens are its
title's followed by its sentences' (the tokenizer works word by word, so that
equals tokenizing ``embedding_text(title, chunk)``), counted with numpy.
Vectors are seeded mixes of real MiniLM chunk vectors plus noise, normalized.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from qa.ingest.chunk import sentence_spans
from qa.store import Store
from qa.store.keywords import KeywordFiles, KeywordSegment, tokenize
from qa.types import Article

ARTICLE_WORDS = 600
CHUNK_WORDS = 120


def chunk_ranges(
    counts: Sequence[int], max_words: int = CHUNK_WORDS, overlap: int = 1
) -> list[tuple[int, int]]:
    """Sentence ranges ``[i, j)`` of each chunk, as ``chunk_article`` groups them."""
    out, i = [], 0
    while i < len(counts):
        j, words = i, 0
        while j < len(counts) and (j == i or words + counts[j] <= max_words):
            words += counts[j]
            j += 1
        out.append((i, j))
        if j >= len(counts):
            break
        i = max(j - overlap, i + 1)
    return out


class BulkArchive:
    """Writes synthetic articles straight into a store's SQLite file and its BM25 base file."""

    def __init__(self, articles: Sequence[Article], pool: np.ndarray, seed: int = 1) -> None:
        sentences = [a.text[s:e] for a in articles for s, e in sentence_spans(a.text)]
        self.sentences = [s for s in sentences if 3 <= len(s.split()) <= CHUNK_WORDS]
        self.words = np.array([len(s.split()) for s in self.sentences])
        self.titles = [a.title for a in articles]
        self.vocab: dict[str, int] = {}
        self.sentence_terms = self._terms(self.sentences)
        self.title_terms = self._terms(self.titles)
        self.pool = pool
        self.rng = np.random.default_rng(seed)
        self.serial = 0

    def _terms(self, texts: list[str]) -> list[np.ndarray]:
        vocab = self.vocab
        return [np.array([vocab.setdefault(t, len(vocab)) for t in doc], np.int64) for doc in tokenize(texts)]

    def random_id(self) -> str:
        """A bulk-loaded article's id (it may have been deleted)."""
        return f"bulk-{int(self.rng.integers(0, max(1, self.serial))):07d}"

    def grow(self, store: Store, chunks: int, block: int = 20_000) -> None:
        """Add about ``chunks`` chunks (whole articles) and save the merged BM25 base for the store to restore."""
        segments = [store.keywords(store.snapshot()).compacted().base]
        added = 0
        with store.writer():
            # Growing a kept index (--index-dir): number new articles after its bulk-loaded ones.
            last = (
                store.records.conn()
                .execute("SELECT MAX(id) FROM documents WHERE id LIKE 'bulk-%'")
                .fetchone()[0]
            )
            self.serial = max(self.serial, int(last.split("-")[1]) + 1 if last else 0)
            while added < chunks:
                segment = self._write_block(store, min(block, chunks - added))
                segments.append(segment)
                added += len(segment.ids)
                print(f"  bulk: +{added} chunks", file=sys.stderr)
            merged = KeywordSegment.concat(segments)
            del segments
            KeywordFiles(store.dir).save(merged, store.records.generation())
            del merged
        store.refresh(force=True)

    def _write_block(self, store: Store, chunks: int) -> KeywordSegment:
        """One transaction of whole articles with about ``chunks`` chunks; their BM25 segment."""
        rng, now = self.rng, time.time()
        docs, rows, terms = [], [], []
        conn = store.records.conn()
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='chunks'").fetchone()
        next_id = max(next_id, int(seq[0]) if seq else 0) + 1
        while len(rows) < chunks:
            picks = rng.integers(0, len(self.sentences), 60)
            cut = int(np.searchsorted(np.cumsum(self.words[picks]), ARTICLE_WORDS)) + 1
            picks = picks[:cut]
            title_n = int(rng.integers(0, len(self.titles)))
            title = self.titles[title_n]
            parts = [self.sentences[p] for p in picks]
            starts = np.concatenate([[0], np.cumsum([len(p) + 1 for p in parts])[:-1]])
            text = " ".join(parts)
            doc_id = f"bulk-{self.serial:07d}"
            self.serial += 1
            docs.append((doc_id, title, "synthetic", "2024-01-01", "", text, f"bulk:{doc_id}", now, now))
            for ordinal, (i, j) in enumerate(chunk_ranges(self.words[picks].tolist())):
                start, end = int(starts[i]), int(starts[j - 1]) + len(parts[j - 1])
                chunk_id = next_id + len(rows)
                rows.append(
                    [chunk_id, doc_id, ordinal, start, end, text[start:end], f"bulk:{chunk_id}", None]
                )
                terms.append([self.title_terms[title_n], *(self.sentence_terms[p] for p in picks[i:j])])
        vectors = self._vectors(len(rows))
        for row, vector in zip(rows, vectors, strict=True):
            row[7] = vector.tobytes()
        with store.records.transaction() as tx:
            tx.executemany(
                "INSERT INTO documents(id, title, source, published_at, url, text, content_hash, added_at, "
                "updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                docs,
            )
            tx.executemany(
                "INSERT INTO chunks(id, doc_id, ordinal, start, end, text, embed_hash, vector) VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )
            tx.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
        flat = [np.concatenate(t) for t in terms]
        lengths = np.array([len(t) for t in flat], dtype=np.float32)
        cols = np.concatenate(flat)
        counts = sparse.csr_matrix(
            (
                np.ones(len(cols), np.float32),
                (np.repeat(np.arange(len(flat)), lengths.astype(np.int64)), cols),
            ),
            shape=(len(flat), len(self.vocab)),
        )
        counts.sum_duplicates()
        csc = counts.tocsc()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return KeywordSegment(ids, self.vocab, csc, lengths, np.diff(csc.indptr).astype(np.float32))

    def _vectors(self, n: int) -> np.ndarray:
        pool, rng = self.pool, self.rng
        d = pool.shape[1]
        pick = rng.integers(0, len(pool), (n, 2))
        v = pool[pick[:, 0]] + 0.5 * pool[pick[:, 1]] + rng.normal(0, 0.35 / np.sqrt(d), (n, d))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
