"""The saved BM25 base (``keywords.<gen>.npz``): a cold open reads it, checks it against SQLite, and never trusts a bad one.

Real bm25s tokenization, a real store and real files: a restored index must rank
exactly as one built from the store's texts, after writes the file missed, and
a damaged or foreign file must cost a rebuild, never a wrong answer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.models.embedding import SentenceTransformerEmbedder
from qa.pipeline import write_articles
from qa.store import Store
from qa.store import keywords as kw_module
from qa.store.keywords import KeywordFiles, Keywords, KeywordSegment
from qa.types import Article

QUESTIONS = ("ferry storm island", "council budget", "election results", "who won the match")


def rankings(index: Store) -> list[list[int]]:
    kw = index.keywords(index.snapshot())
    return [[i for i, _ in kw.search(q, 10)] for q in QUESTIONS]


def fresh_rankings(index: Store) -> list[list[int]]:
    snap = index.snapshot()
    kw = Keywords.build(*index.keyword_texts(snap.ids))
    return [[i for i, _ in kw.search(q, 10)] for q in QUESTIONS]


def test_blocks_build_the_same_index_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"the council met about the ferry {n} and the storm number {n % 7}" for n in range(50)]
    ids = np.arange(100, 150, dtype=np.int64)
    whole = Keywords.build(ids, texts)
    monkeypatch.setattr(kw_module, "BUILD_BLOCK", 7)
    blocks = Keywords.build(ids, texts)
    for q in ("council ferry", "storm 3", "number 12"):
        a, b = whole.search(q, 20), blocks.search(q, 20)
        assert [i for i, _ in a] == [i for i, _ in b]
        assert [s for _, s in a] == pytest.approx([s for _, s in b])


def test_a_cold_open_reads_the_saved_base_and_catches_up_with_sqlite(
    seed_copy: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = Store(seed_copy, embedder)
    want = rankings(index)  # first use builds from the store and saves the base
    assert len(list(seed_copy.glob("keywords.*.npz"))) == 1
    # A write the file never saw: one article replaced, one added, one deleted.
    first, *_ = index.list_documents(limit=3)[1]
    settings = Settings(index_dir=seed_copy, sentence_vectors=False)
    write_articles(
        index,
        embedder,
        [Article("kw-new", "The ferry to the island ran again after the storm.", "Ferry")],
        settings,
    )
    write_articles(
        index,
        embedder,
        [Article(first.id, "The council budget vote was delayed again.", first.title)],
        settings,
    )
    write_articles(index, embedder, [Article("kw-gone", "Election results came in late.", "Vote")], settings)
    index.delete(["kw-gone"])
    expected = fresh_rankings(index)
    assert expected != want
    index.close()

    builds = []
    real_build = Keywords.build
    monkeypatch.setattr(
        Keywords,
        "build",
        classmethod(lambda cls, ids, texts: builds.append(len(ids)) or real_build.__func__(cls, ids, texts)),
    )  # type: ignore[attr-defined]
    reopened = Store(seed_copy, embedder)
    assert rankings(reopened) == expected
    assert builds == [], "a cold open rebuilt BM25 over every chunk"
    kw = reopened.keywords(reopened.snapshot())
    assert len(kw.delta.ids) >= 2 and kw.tombstones  # only what the file lacked was tokenized


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_a_damaged_or_foreign_keyword_file_is_rebuilt(
    seed_copy: Path, embedder: SentenceTransformerEmbedder, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    index = Store(seed_copy, embedder)
    want = rankings(index)
    index.close()
    (path,) = seed_copy.glob("keywords.*.npz")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:  # a file from a later generation than the store: another store's, ids mean other chunks
        bogus = KeywordSegment.build(np.array([1, 2], np.int64), [["ferri"], ["storm"]])
        KeywordFiles(seed_copy).save(bogus, 10**9)
    reopened = Store(seed_copy, embedder)
    assert rankings(reopened) == want
    if damage != "foreign":
        assert "unusable" in caplog.text
