"""Segmented vectors and keywords answer exactly as one index rebuilt from scratch would.

Random vectors and real bm25s stand in for nothing: the checks compare the
layered structures (base - tombstones + delta) against brute force and against
bm25s itself, through adds, deletes and compactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
import pytest

from qa.config import Settings
from qa.ingest.embed import IngestReport
from qa.models.embedding import SentenceTransformerEmbedder
from qa.pipeline import write_articles
from qa.store import Store, segments
from qa.store.keywords import Keywords
from qa.store.segments import AnnIndex, LayeredMap, Vectors, build_base
from qa.types import Article

DIM = 32


def upsert(store: Store, embedder: Any, articles: Sequence[Article], **settings: Any) -> IngestReport:
    """Write ``articles`` to ``store`` as the pipeline does (``settings``: e.g. ``chunk_words``)."""
    return write_articles(store, embedder, articles, Settings(index_dir=store.dir, **settings))


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vectors @ query
    return [int(ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def test_layered_map_evolves_without_touching_its_base() -> None:
    base = {1: "a", 2: "b", 3: "c"}
    m = LayeredMap(dict(base))
    m2 = m.evolve({4: "d", 2: "B"}, [3])
    m3 = m2.evolve({}, [2, 4])
    assert dict(m) == base
    assert dict(m2) == {1: "a", 2: "B", 4: "d"} and len(m2) == 3
    assert dict(m3) == {1: "a"} and len(m3) == 1 and 2 not in m3 and 3 not in m3
    assert dict(m3.flatten()) == {1: "a"} and m3.flatten().pending == 0


@pytest.mark.parametrize("ann", ["", "hnsw", "ivf"])
def test_vectors_through_adds_and_deletes_match_brute_force(ann: AnnIndex | Literal[""]) -> None:
    rng = np.random.default_rng(7)
    ids = np.arange(1, 2001, dtype=np.int64)
    vectors = unit(rng, len(ids))
    live = dict(zip(ids.tolist(), vectors, strict=True))
    v = Vectors.from_base(build_base(ids, vectors, DIM, 1000 if ann else 0, kind=ann or "ivf"), DIM)
    assert v.kind == (ann or "flat") and v.approximate == bool(ann)
    next_id = 5000
    deleted: set[int] = set()
    for step in range(6):
        new_ids = np.arange(next_id, next_id + 50, dtype=np.int64)
        next_id += 50
        new = unit(rng, 50)
        drop = rng.choice(np.array(list(live)), 40, replace=False).tolist()
        v = v.evolve(new_ids, new, drop)
        for i in drop:
            del live[i]
        deleted.update(drop)
        live.update(zip(new_ids.tolist(), new, strict=True))
        if step == 3:
            ids_now, vecs_now = v.live()
            v = Vectors.from_base(build_base(ids_now, vecs_now, DIM, 0), DIM)
    assert v.size == len(live) and set(v.live_ids().tolist()) == set(live)
    all_ids = np.array(list(live), dtype=np.int64)
    all_vecs = np.vstack(list(live.values()))
    hits = total = 0
    for q in unit(rng, 20):
        got = [i for i, _ in v.search(q, 10)]
        assert set(got) <= set(live), "a deleted id came back"
        want = brute(all_ids, all_vecs, q, 10)
        hits += len(set(got) & set(want))
        total += 10
        # Narrow and wide filters (a wide one on a flat base goes through FAISS's id selector);
        # a filter naming deleted ids never brings them back.
        for step_ in (7, 2):
            allowed = all_ids[::step_]
            assert [i for i, _ in v.search(q, 5, allowed)] == brute(allowed, all_vecs[::step_], q, 5)
            with_deleted = np.concatenate([allowed, np.array(sorted(deleted), dtype=np.int64)])
            assert [i for i, _ in v.search(q, 5, with_deleted)] == brute(allowed, all_vecs[::step_], q, 5)
    assert hits / total >= (0.9 if ann else 1.0)
    for chunk_id in list(live)[:5] + list(live)[-5:]:
        assert np.allclose(v.vector(chunk_id), live[chunk_id])


TEXTS = [
    "The harbor council voted to fund the new bridge over the river.",
    "A storm closed the airport and the ferry for two days.",
    "The museum opened a garden exhibit; the council praised the museum.",
    "Budget talks at the council stalled over the stadium.",
    "The bakery near the canal won a prize for its bread.",
    "Putin said he is open to talks on civilian infrastructure.",
]


def test_keywords_rank_as_bm25s_does_and_forget_deleted_chunks() -> None:
    import bm25s
    import Stemmer

    ids = np.arange(10, 10 + len(TEXTS), dtype=np.int64)
    kw = Keywords.build(ids, TEXTS)
    stemmer = Stemmer.Stemmer("english")
    reference = bm25s.BM25()
    reference.index(
        bm25s.tokenize(TEXTS, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
    )
    for question in ("council museum", "storm at the airport", "bread"):
        tokens = bm25s.tokenize(
            [question], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )
        want = np.asarray(reference.get_scores(tokens[0]))
        got = dict(kw.search(question, len(TEXTS)))
        for row, score in enumerate(want):
            assert got.get(int(ids[row]), 0.0) == pytest.approx(float(score), rel=1e-4, abs=1e-6)

    # Split across base and delta, with a deletion: same ranking as one index of the live texts.
    half = Keywords.build(ids[:3], TEXTS[:3]).evolve(
        dict(zip(ids[3:].tolist(), TEXTS[3:], strict=True)), [12]
    )
    whole = Keywords.build(np.delete(ids, 2), [t for i, t in enumerate(TEXTS) if i != 2])
    for question in ("council museum", "council", "talks"):
        got = half.search(question, 10)
        assert 12 not in dict(got)
        assert [i for i, _ in got] == [i for i, _ in whole.search(question, 10)]
        assert [i for i, _ in half.compacted().search(question, 10)] == [i for i, _ in got]


def test_a_write_touches_only_the_delta_and_readers_keep_their_snapshot(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    index = Store(seed_copy, embedder)
    before = index.snapshot()
    files = {p.name: p.stat().st_mtime_ns for p in seed_copy.glob("vectors.*.faiss")}
    upsert(
        index,
        embedder,
        [Article("doc-x", "The ferry to the island resumed service on Monday after the storm.", "Ferry")],
    )
    after = index.snapshot()
    assert after.generation == before.generation + 1
    assert after.vectors.base is before.vectors.base, "the base index was rebuilt or copied"
    assert len(after.vectors.delta_ids) == after.size - before.size
    assert {p.name: p.stat().st_mtime_ns for p in seed_copy.glob("vectors.*.faiss")} == files
    # The old snapshot is untouched: a reader mid-search sees the old generation whole.
    assert before.size == len(before.vectors.live_ids())
    assert after.vectors.search(embedder.embed(["ferry island storm"]), 1)[0][0] in after.chunks
    index.delete(["doc-x"])
    assert index.snapshot().size == before.size
    assert index.check_consistency() == []


def test_filters_see_chunks_written_since_the_base(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    from qa.answer.retrieve import Filters, Retriever

    index = Store(seed_copy, embedder)
    retriever = Retriever(index, embedder.embed)
    text = "The ferry to the island resumed service on Monday after the storm."
    upsert(
        index,
        embedder,
        [
            Article("ferry-old", text, "Ferry", source="Gazette", published_at="2020-01-01"),
            Article("ferry-new", text + " Crowds came.", "Ferry", source="Herald", published_at="2030-01-01"),
        ],
    )
    as_of = retriever.search("ferry island storm", 5, filters=Filters(as_of="2025-01-01"))
    assert "ferry-old" in {p.doc_id for p in as_of} and "ferry-new" not in {p.doc_id for p in as_of}
    herald = retriever.search("ferry island storm", 5, filters=Filters(sources=("herald",)))
    assert {p.doc_id for p in herald} == {"ferry-new"}
    index.delete(["ferry-old"])
    # The source's metadata changes without a text change: the overlay carries the new label.
    upsert(
        index,
        embedder,
        [Article("ferry-new", text + " Crowds came.", "Ferry", source="Gazette", published_at="2030-01-01")],
    )
    assert retriever.search("ferry island storm", 5, filters=Filters(sources=("herald",))) == []
    gazette = retriever.search("ferry island storm", 5, filters=Filters(sources=("gazette",)))
    assert {p.doc_id for p in gazette} == {"ferry-new"}


@pytest.mark.parametrize("ann", ["", "hnsw", "ivf"])
def test_float16_bases_rank_as_float32_ones(ann: AnnIndex | Literal[""]) -> None:
    rng = np.random.default_rng(11)
    ids = np.arange(1, 3001, dtype=np.int64)
    vectors = unit(rng, len(ids))
    fp32 = Vectors.from_base(build_base(ids, vectors, DIM, 1000 if ann else 0, kind=ann or "ivf"), DIM)
    fp16 = Vectors.from_base(build_base(ids, vectors, DIM, 1000 if ann else 0, True, ann or "ivf"), DIM)
    assert fp16.float16 and not fp32.float16 and fp16.kind == fp32.kind == (ann or "flat")
    fp16 = fp16.evolve(np.array([9001], np.int64), unit(rng, 1), [int(ids[0])])
    fp32 = fp32.evolve(np.array([9001], np.int64), fp16.delta, [int(ids[0])])
    live_ids, live = fp16.live()
    assert live.dtype == np.float32 and np.abs(live[:-1] - vectors[1:]).max() < 1e-3
    same = total = 0
    for q in unit(rng, 30):
        a, b = [i for i, _ in fp32.search(q, 10)], [i for i, _ in fp16.search(q, 10)]
        assert int(ids[0]) not in b
        same += len(set(a) & set(b))
        total += 10
        allowed = ids[::5]
        filtered = [i for i, _ in fp16.search(q, 5, allowed)]
        mask = np.isin(live_ids, allowed)
        assert filtered == brute(live_ids[mask], live[mask], q, 5)  # exact over the decoded vectors
    assert same / total >= (0.9 if ann else 0.98)
    rebuilt = Vectors.from_base(fp16.rebuilt(0, float16=False), DIM)
    assert not rebuilt.float16 and set(rebuilt.live_ids().tolist()) == set(live_ids.tolist())


def test_a_store_converts_its_base_between_dtypes_and_answers_the_same(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    q = embedder.embed(["ferry island storm"])
    index = Store(seed_copy, embedder)
    want = [i for i, _ in index.snapshot().dense(q, 5)]
    size = index.snapshot().size
    index.close()
    index = Store(seed_copy, embedder, float16=True)
    snap = index.snapshot()
    assert snap.vectors.float16 and snap.vectors.pending == 0 and snap.size == size
    assert [i for i, _ in snap.dense(q, 5)] == want
    assert len(list(seed_copy.glob("vectors.*.faiss"))) == 1
    index.close()
    index = Store(seed_copy, embedder)  # back to float32, from SQLite's originals
    assert not index.snapshot().vectors.float16 and [i for i, _ in index.snapshot().dense(q, 5)] == want
    assert not index.check_consistency()


def test_ivf_at_full_nprobe_is_exact_and_never_returns_a_deleted_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    ids = np.arange(100, 4100, dtype=np.int64)
    vectors = unit(rng, len(ids))
    faiss.write_index(build_base(ids, vectors, DIM, 1, kind="ivf"), str(tmp_path / "ivf.faiss"))
    v = Vectors.from_base(faiss.read_index(str(tmp_path / "ivf.faiss")), DIM)  # reopened from its file
    assert v.kind == "ivf" and not v.float16 and v.size == len(ids)
    queries = unit(rng, 20)
    drop = {brute(ids, vectors, q, 1)[0] for q in queries} | set(ids[::3].tolist())  # every best hit too
    v = v.evolve(np.zeros(0, np.int64), np.zeros((0, DIM), np.float32), drop)
    keep = ~np.isin(ids, np.array(sorted(drop)))
    for q in queries:  # the served nprobe: approximate, but never a deleted id
        assert not drop & {i for i, _ in v.search(q, 10)}
    monkeypatch.setattr(segments, "IVF_NPROBE", faiss.downcast_index(v.base.index).nlist)
    for q in queries:  # every list scanned: exact
        assert [i for i, _ in v.search(q, 10)] == brute(ids[keep], vectors[keep], q, 10)
        allowed = ids[::7]
        mask = np.isin(ids[keep], allowed)
        assert [i for i, _ in v.search(q, 5, allowed)] == brute(ids[keep][mask], vectors[keep][mask], q, 5)
    live_ids, live = v.live()
    assert live_ids.tolist() == ids[keep].tolist() and np.allclose(live, vectors[keep])
    assert np.allclose(v.vector(int(ids[1])), vectors[1])
    with pytest.raises(KeyError):
        v.vector(int(ids[0]))


def test_a_store_rebuilds_a_base_of_the_other_ann_kind(
    seed_copy: Path, embedder: SentenceTransformerEmbedder
) -> None:
    q = embedder.embed(["ferry island storm"])
    index = Store(seed_copy, embedder, ann_threshold=1, ann_index="hnsw")
    want = [i for i, _ in index.snapshot().dense(q, 5)]
    index.compact(rebuild=True)
    assert index.snapshot().vectors.kind == "hnsw"
    index.close()
    for kind in ("ivf", "ivf", "hnsw"):  # switched, reopened as is, switched back
        index = Store(seed_copy, embedder, ann_threshold=1, ann_index=kind)  # type: ignore[arg-type]
        snap = index.snapshot()
        assert snap.vectors.kind == kind and snap.vectors.pending == 0
        assert [i for i, _ in snap.dense(q, 5)] == want  # a few chunks: every list is probed
        assert len(list(seed_copy.glob("vectors.*.faiss"))) == 1 and not index.check_consistency()
        index.close()
    index = Store(seed_copy, embedder, ann_threshold=1, ann_index="ivf")
    upsert(
        index,
        embedder,
        [Article("doc-x", "The ferry to the island resumed service after the storm.", "Ferry")],
    )
    index.compact()  # the new chunk folded into a new IVF base...
    best = index.snapshot().dense(q, 1)[0][0]
    assert index.snapshot().vectors.kind == "ivf" and index.snapshot().chunks[best].doc_id == "doc-x"
    index.delete(["doc-x"])  # ... then deleted from it: a tombstone
    assert best not in {i for i, _ in index.snapshot().dense(q, 5)} and not index.check_consistency()


def _bm25_by_scoring_every_row(kw: Keywords, question: str, k: int, allowed: np.ndarray | None) -> list:
    """BM25 as Keywords.search scored it before MaxScore: every row of each segment, then the top k."""
    from qa.store.keywords import K1, B, tokenize

    segs = [s for s in (kw.base, kw.delta) if len(s.ids)]
    total = sum(len(s.ids) for s in segs)
    avgdl = max(sum(s.total_length for s in segs) / total, 1e-9)
    found = []
    for seg in segs:
        scores = np.zeros(len(seg.ids), dtype=np.float32)
        for token in tokenize([question])[0]:
            df = sum(s.term_df(token) for s in segs)
            col = seg.vocab.get(token)
            if df and col is not None:
                idf = float(np.log(1 + (total - df + 0.5) / (df + 0.5)))
                rows = seg.counts.indices[seg.counts.indptr[col] : seg.counts.indptr[col + 1]]
                tf = seg.counts.data[seg.counts.indptr[col] : seg.counts.indptr[col + 1]]
                scores[rows] += idf * tf / (K1 * ((1 - B) + B * seg.lengths[rows] / avgdl) + tf)
        if seg is kw.base and kw.tombstones:
            scores[np.isin(seg.ids, list(kw.tombstones))] = 0
        if allowed is not None:
            scores[~np.isin(seg.ids, allowed)] = 0
        found += [
            (int(seg.ids[i]), float(scores[i]))
            for i in np.argsort(-scores, kind="stable")[:k]
            if scores[i] > 0
        ]
    return sorted(found, key=lambda pair: -pair[1])[:k]


@pytest.mark.parametrize("seed", [5, 6])
def test_bm25_skipping_common_terms_ranks_as_scoring_every_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    words = "said year police city council river storm bridge museum budget court minister ferry".split()
    words += [f"rare{n}" for n in range(300)]
    zipf = 1 / np.arange(1, len(words) + 1) ** 1.1
    pick = lambda n: " ".join(rng.choice(words, n, p=zipf / zipf.sum()))  # noqa: E731
    texts = [pick(int(rng.integers(3, 40))) for _ in range(3000)] + ["said year"] * 30  # exact ties too
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    kw = Keywords.build(ids, texts)
    kw = kw.evolve({9001: "storm bridge rare3 said", 9002: "said said year"}, ids[::11].tolist())
    questions = [pick(int(rng.integers(1, 8))) for _ in range(40)] + ["said year", "said", "rare3 said storm"]
    for question in questions:
        for k, allowed in ((10, None), (3, None), (50, None), (10, ids[::3])):
            assert kw.search(question, k, allowed) == _bm25_by_scoring_every_row(kw, question, k, allowed)


def test_a_wide_filter_ranks_copies_of_one_text_as_the_row_scoring_path_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qa.store import segments

    rng = np.random.default_rng(3)
    distinct = unit(rng, 50)
    vectors = np.vstack([distinct, distinct[:20]])  # ids 51-70 repeat ids 1-20: exact ties
    ids = np.arange(1, 71, dtype=np.int64)
    v = Vectors.from_base(build_base(ids, vectors, DIM, 0), DIM)
    allowed = ids[::1]  # every row: the id-selector path
    for q in unit(rng, 10):
        wide = v.search(q, 10, allowed)
        monkeypatch.setattr(segments, "SELECTOR_SHARE", 0)  # the rows' own scores instead
        rows = v.search(q, 10, allowed)
        monkeypatch.undo()
        assert [i for i, _ in wide] == [i for i, _ in rows]
        assert np.allclose([s for _, s in wide], [s for _, s in rows], atol=1e-5)
