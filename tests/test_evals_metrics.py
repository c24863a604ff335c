"""Arithmetic of the eval harness (qa/evals/) against a tiny in-memory target.

The fake target is deliberate here: these tests check metric counting, report
writing and baseline comparison, not retrieval or generation (tested elsewhere).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa.evals.baseline import compare_to_baseline
from qa.evals.dataset import EvalFileError, EvalItem, load_eval_items
from qa.evals.metrics import contains_answer, document_rank, max_f1, normalize_answer, percentile, token_f1
from qa.evals.report import summary_table, write_results
from qa.evals.run import run_eval
from qa.types import Answer, Citation, Passage

ROOT = Path(__file__).resolve().parent.parent
SEED_ID = "000_5352219b80730ba2"


def passage(doc_id: str, text: str = "filler text", start: int = 0) -> Passage:
    return Passage(
        chunk_id=hash((doc_id, start)) & 0xFFFF,
        doc_id=doc_id,
        title=doc_id,
        source="",
        published_at=None,
        start=start,
        end=start + len(text),
        text=text,
        score=1.0,
    )


def citation(n: int, doc_id: str, text: str, start: int = 0) -> Citation:
    return Citation(
        n=n, doc_id=doc_id, title=doc_id, start=start, end=start + len(text), text=text, score=1.0
    )


def answer(text: str, citations: list[Citation] | None = None, answered: bool = True) -> Answer:
    return Answer(answer=text, answered=answered, citations=citations or [], backend="fake")


def item(
    item_id: str,
    answers: list[str] | None = None,
    doc_ids: list[str] | None = None,
    evidence: str | None = None,
    answerable: bool = True,
) -> EvalItem:
    return EvalItem(
        id=item_id,
        question=f"question {item_id}?",
        answers=answers or [],
        evidence=evidence,
        evidence_doc_ids=doc_ids or [],
        answerable=answerable,
    )


@dataclass
class FakeTarget:
    """Replays canned passages and answers keyed by question; records the calls it got."""

    passages: dict[str, list[Passage]] = field(default_factory=dict)
    answers: dict[str, Answer | Exception] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)

    def search(self, question: str, k: int, as_of: str | None = None) -> list[Passage]:
        self.calls.append(("search", question, as_of))
        return self.passages.get(question, [])[:k]

    def ask(self, question: str, as_of: str | None = None) -> Answer:
        self.calls.append(("ask", question, as_of))
        reply = self.answers.get(question, answer("I don't know.", answered=False))
        if isinstance(reply, Exception):
            raise reply
        return reply


def q(item_id: str) -> str:
    return f"question {item_id}?"


# --------------------------------------------------------------------------- retrieval


def test_document_rank_counts_distinct_documents() -> None:
    hits = [passage("a"), passage("a", start=50), passage("b"), passage("a", start=90), passage("c")]
    assert document_rank(hits, ["c"]) == 3
    assert document_rank(hits, ["b", "c"]) == 2
    assert document_rank(hits, ["z"]) is None


def test_hit_at_k_and_mrr_from_known_ranks() -> None:
    docs = [f"d{i}" for i in range(12)]
    items = [
        item("r1", ["x"], ["d0"]),  # rank 1
        item("r3", ["x"], ["d2"]),  # rank 3 among documents, 5th passage
        item("r7", ["x"], ["d6"]),  # rank 7
        item("miss", ["x"], ["nowhere"]),
    ]
    target = FakeTarget()
    for it in items:
        target.passages[q(it.id)] = [passage(d) for d in docs]
    # Repeated documents must not push d2 down to rank 5.
    target.passages[q("r3")] = [
        passage("d0"),
        passage("d0", start=9),
        passage("d1"),
        passage("d1", start=9),
    ] + [passage(d) for d in docs[2:]]

    result = run_eval(items, target, k=10, progress=False)

    assert [row.hit_rank for row in result.rows] == [1, 3, 7, None]
    assert result.summary["n_retrieval"] == 4
    assert result.summary["hit@1"] == pytest.approx(1 / 4)
    assert result.summary["hit@5"] == pytest.approx(2 / 4)
    assert result.summary["hit@10"] == pytest.approx(3 / 4)
    assert result.summary["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 7 + 0) / 4)


def test_evidence_hit_at_5_either_direction_and_normalized() -> None:
    evidence = "Peskov  said there are NO immediate plans."
    items = [
        item("inside", ["x"], ["a"], evidence=evidence),
        item("partial", ["x"], ["a"], evidence=evidence),
        item("too-deep", ["x"], ["a"], evidence=evidence),
    ]
    target = FakeTarget(
        passages={
            q("inside"): [
                passage("a", "Earlier text. Peskov said there are no\nimmediate plans. Later text.")
            ],
            # The passage is a sentence-piece of the evidence: still counts.
            q("partial"): [passage("a", "there are no immediate plans")],
            q("too-deep"): [passage(f"o{i}") for i in range(5)] + [passage("a", evidence)],
        }
    )
    result = run_eval(items, target, progress=False)
    assert [row.evidence_hit for row in result.rows] == [True, True, False]
    assert result.summary["evidence_hit@5"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- answers


def test_normalize_answer_strips_markers_articles_punctuation() -> None:
    assert normalize_answer("The  Eiffel Tower, [1] in an instant! [2, 3]") == "eiffel tower in instant"
    assert normalize_answer("“Squid Game” — a hit.") == "squid game hit"
    assert normalize_answer("Theater an anthem") == "theater anthem"  # only whole-word articles go
    # A possessive holds its noun and a hyphen separates words: "Australia’s" holds "Australia".
    assert contains_answer("NASA launched from Australia’s Northern Territory [1].", ["Australia"])
    assert contains_answer("A 17-year-old has become the youngest pilot.", ["17"])
    assert not contains_answer("A 17-year-old has become the youngest pilot.", ["7"])
    # A count spelled out holds its digits, either way round, and only as a whole word.
    assert contains_answer("The court extended her detention six months [1].", ["6"])
    assert contains_answer("She is due to serve a nine-year sentence.", ["9 years"]) is False
    assert contains_answer("She is due to serve a nine-year sentence.", ["9"])
    assert contains_answer("Police counted 40 arrests.", ["forty"])
    assert not contains_answer("Police counted 140 arrests.", ["forty"])
    assert not contains_answer("Someone left.", ["1"])
    assert normalize_answer("Coeur d’Alene, the city's BA.5 wave") == "coeur dalene city ba5 wave"


def test_contains_answer_is_token_bounded_and_ignores_markers() -> None:
    assert contains_answer("It was Donald Trump [2].", ["donald trump"])
    assert contains_answer("The city of Sumy[1] was hit.", ["Sumy"])
    assert not contains_answer("At least 135 people died.", ["35"])
    assert not contains_answer("Trump [1].", ["Donald Trump"])
    assert not contains_answer("anything", ["", "the"])  # answers that normalize to nothing never match


def test_token_f1_squad_style() -> None:
    assert token_f1("the cat sat", "cat sat on mat") == pytest.approx(2 / 3)
    assert token_f1("Sumy [1].", "sumy") == 1.0
    assert token_f1("nothing shared", "sumy") == 0.0
    assert token_f1("x b b", "b b c") == pytest.approx(2 / 3)  # counts overlapping tokens with multiplicity
    assert max_f1("the cat sat", ["dog", "cat sat on mat", "cat"]) == pytest.approx(2 / 3)
    assert max_f1("the cat sat", ["dog", "cat sat on mat", "a cat sat"]) == 1.0
    assert max_f1("anything", []) == 0.0


def test_contains_answer_and_f1_only_score_answered_items() -> None:
    items = [item("yes", ["Sumy"], ["a"]), item("declined", ["Sumy"], ["a"])]
    target = FakeTarget(
        answers={
            q("yes"): answer("The strike hit Sumy [1]."),
            q("declined"): answer("Not sure it was Sumy.", answered=False),
        }
    )
    result = run_eval(items, target, progress=False)
    assert [row.contains_answer for row in result.rows] == [True, False]
    assert result.rows[1].f1 == 0.0
    assert result.summary["contains_answer"] == pytest.approx(0.5)
    assert result.summary["f1"] == pytest.approx((token_f1("The strike hit Sumy [1].", "Sumy") + 0) / 2)


# --------------------------------------------------------------------------- citations


def test_citation_precision_and_recall_counting() -> None:
    evidence = "A Russian missile strike on April 13 killed at least 35 people in the city of Sumy."
    items = [
        item("two-cites", ["Sumy"], ["seed"], evidence=evidence),
        item("other-doc", ["Sumy"], ["seed"]),
        item("via-passage", ["London"], ["seed"]),
        item("declined", ["Sumy"], ["seed"]),
        item("no-cites", ["Sumy"], ["seed"]),
    ]
    london = passage("seed", "Talks will be held in London next week. They aim for a ceasefire.", start=100)
    target = FakeTarget(
        passages={q("via-passage"): [london]},
        answers={
            q("two-cites"): answer(
                "Sumy [1] was hit [2].",
                [citation(1, "seed", evidence), citation(2, "seed", "Peskov spoke on Monday.")],
            ),
            # Evidence lists aren't exhaustive: another document quoting the answer counts.
            q("other-doc"): answer("Sumy [1].", [citation(1, "other", "Officials in Sumy said...")]),
            # The cited sentence lacks the answer, but its passage has it.
            q("via-passage"): answer(
                "They aim for a ceasefire [1].", [citation(1, "seed", "They aim for a ceasefire.", 140)]
            ),
            # Citations of a declined answer don't count towards precision.
            q("declined"): answer("Unsure.", [citation(1, "seed", "Sumy was hit.")], answered=False),
            q("no-cites"): answer("Sumy."),
        },
    )
    result = run_eval(items, target, progress=False)
    rows = {row.id: row for row in result.rows}

    assert rows["two-cites"].n_citations_ok == 1 and rows["two-cites"].citation_ok
    assert rows["other-doc"].citation_ok
    assert rows["via-passage"].citation_ok
    assert not rows["declined"].citation_ok
    assert not rows["no-cites"].citation_ok
    assert result.summary["n_citations"] == 4
    assert result.summary["citation_precision"] == pytest.approx(3 / 4)
    assert result.summary["citation_recall"] == pytest.approx(3 / 5)
    # A correct citation passes an item whose answer text lacks the answer string.
    assert rows["via-passage"].passed and not rows["via-passage"].contains_answer
    assert [c["n"] for c in rows["two-cites"].citations] == [1, 2]


def test_citation_precision_is_none_without_citations() -> None:
    result = run_eval([item("a", ["x"], ["d"])], FakeTarget(answers={q("a"): answer("x")}), progress=False)
    assert result.summary["citation_precision"] is None
    assert result.summary["citation_recall"] == 0.0


# --------------------------------------------------------------------------- abstention and errors


def test_abstention_rates_and_pass_flags() -> None:
    items = [
        item("u-declined", answerable=False),
        item("u-answered", answerable=False),
        item("a-declined", ["Sumy"], ["d"]),
        item("a-answered", ["Sumy"], ["d"]),
    ]
    target = FakeTarget(
        answers={
            q("u-answered"): answer("Probably Sumy."),
            q("a-answered"): answer("Sumy."),
        }
    )
    result = run_eval(items, target, progress=False)
    assert result.summary["n_unanswerable"] == 2
    assert result.summary["unanswerable_declined"] == pytest.approx(0.5)
    assert result.summary["answerable_declined"] == pytest.approx(0.5)
    assert [row.passed for row in result.rows] == [True, False, False, True]
    assert result.summary["pass_rate"] == pytest.approx(0.5)
    # Unanswerable items never enter the retrieval metrics.
    assert result.summary["n_retrieval"] == 2


def test_target_exception_becomes_error_row() -> None:
    items = [item("boom", ["x"], ["d"]), item("u-boom", answerable=False), item("fine", ["x"], ["d"])]
    target = FakeTarget(
        answers={
            q("boom"): RuntimeError("backend down"),
            q("u-boom"): RuntimeError("backend down"),
            q("fine"): answer("x"),
        }
    )
    result = run_eval(items, target, progress=False)
    rows = {row.id: row for row in result.rows}
    assert rows["boom"].error == "ask: RuntimeError: backend down"
    assert not rows["boom"].passed and not rows["u-boom"].passed
    assert rows["fine"].passed
    assert result.summary["errors"] == 2
    # A crash is not an abstention.
    assert result.summary["unanswerable_declined"] == 0.0
    assert result.summary["answerable_declined"] == 0.0


def test_as_of_and_k_reach_the_target() -> None:
    it = EvalItem("n", "When?", ["x"], None, ["d"], True, as_of="2022-06-16")
    target = FakeTarget(passages={"When?": [passage(f"d{i}") for i in range(20)]})
    result = run_eval([it], target, k=3, progress=False)
    assert ("search", "When?", "2022-06-16") in target.calls
    assert ("ask", "When?", "2022-06-16") in target.calls
    assert len(result.rows[0].retrieved_doc_ids) == 3


def test_latency_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)
    result = run_eval([item("a", ["x"], ["d"])], FakeTarget(), progress=False)
    assert result.summary["ask_p50_ms"] is not None and result.summary["ask_p50_ms"] >= 0
    assert result.summary["search_p95_ms"] is not None


# --------------------------------------------------------------------------- baseline


def _summary(**overrides: float) -> dict[str, float]:
    base = {
        "hit@1": 0.80,
        "hit@5": 0.90,
        "mrr": 0.85,
        "contains_answer": 0.50,
        "citation_precision": 0.70,
        "unanswerable_declined": 0.80,
        "answerable_declined": 0.10,
        "ask_p50_ms": 100.0,
    }
    return {**base, **overrides}


def test_regression_beyond_tolerance_only() -> None:
    baseline = {"summary": _summary()}
    assert compare_to_baseline(_summary(), baseline) == []
    # Within tolerance, and exactly at it (float noise must not flip the verdict).
    assert compare_to_baseline(_summary(**{"hit@1": 0.79, "contains_answer": 0.48}), baseline, 0.02) == []
    regressions = compare_to_baseline(_summary(**{"hit@1": 0.75}), baseline, 0.02)
    assert [(r.metric, r.delta) for r in regressions] == [("hit@1", pytest.approx(-0.05))]
    assert "hit@1" in str(regressions[0])
    # Lower is better: a rise in wrong declines regresses, a fall doesn't.
    assert [r.metric for r in compare_to_baseline(_summary(answerable_declined=0.2), baseline)] == [
        "answerable_declined"
    ]
    assert compare_to_baseline(_summary(answerable_declined=0.0), baseline) == []
    # Improvements and latency never regress.
    assert compare_to_baseline(_summary(**{"hit@1": 1.0, "ask_p50_ms": 900.0}), baseline) == []
    # A wider tolerance forgives the same drop.
    assert compare_to_baseline(_summary(**{"hit@1": 0.75}), baseline, tolerance=0.1) == []


def test_baseline_file_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="can't read baseline"):
        compare_to_baseline(_summary(), tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(EvalFileError, match=r"bad\.json"):
        compare_to_baseline(_summary(), bad)


def test_summary_table_marks_regressions() -> None:
    result = run_eval([item("a", ["x"], ["d"])], FakeTarget(), progress=False)
    plain = summary_table(result)
    assert "hit@1" in plain and "citation_recall" in plain and "REGRESSED" not in plain
    with_base = summary_table(result, {"summary": {"hit@1": 1.0, "ask_p50_ms": 0.0}})
    hit_line = next(line for line in with_base.splitlines() if line.startswith("hit@1 "))
    assert "REGRESSED" in hit_line and "-1.000" in hit_line
    latency_line = next(line for line in with_base.splitlines() if line.startswith("ask_p50_ms"))
    assert "REGRESSED" not in latency_line


# --------------------------------------------------------------------------- report


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    items = [item("xss", ["Sumy"], ["d"]), item("u", answerable=False)]
    target = FakeTarget(
        passages={q("xss"): [passage("d", "Sumy was hit.")]},
        answers={
            q("xss"): answer("<script>alert(1)</script> Sumy [1]", [citation(1, "d", "Sumy <b>was</b> hit.")])
        },
    )
    target.answers[q("u")] = answer("A made-up answer.")
    result = run_eval(items, target, progress=False)
    assert result.summary["pass_rate"] == 0.5
    # hit@1 improved (shown as a positive delta); pass_rate fell from a perfect baseline.
    baseline = {"summary": {**result.summary, "hit@1": 0.0, "pass_rate": 1.0}}
    json_path, html_path = write_results(
        result,
        tmp_path / "out",
        title="Seed <eval>",
        meta={"backend": "fake", "corpus": tmp_path / "corpus.jsonl", "date": "2025-01-01"},
        baseline=baseline,
    )
    page = html_path.read_text(encoding="utf-8")

    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sumy &lt;b&gt;was&lt;/b&gt; hit." in page
    assert "Seed &lt;eval&gt;" in page
    # Self-contained: plots inline, no external fetches.
    # metrics, risk-coverage and latency
    assert page.count('src="data:image/png;base64,') + page.count("src='data:image/png;base64,") == 3
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "pass_rate" in page and "+1.000" in page and "Regressions" in page

    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["meta"]["backend"] == "fake"
    assert data["summary"]["n_items"] == 2
    assert [row["id"] for row in data["rows"]] == ["xss", "u"]
    assert [r["metric"] for r in data["baseline"]["regressions"]] == ["pass_rate"]
    # A results file is a valid baseline for the next run, and equal to itself.
    assert compare_to_baseline(result, json_path) == []


def test_report_without_baseline_or_timings(tmp_path: Path) -> None:
    result = run_eval([item("u", answerable=False)], FakeTarget(), progress=False)
    for row in result.rows:
        row.ask_ms = row.search_ms = None
    _, html_path = write_results(result, tmp_path, title="t", meta={})
    page = html_path.read_text(encoding="utf-8")
    assert "No timings." in page and "Regressions" not in page


# --------------------------------------------------------------------------- loading


def test_malformed_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "a", "question": "Q?", "answers": ["x"], "type": "answerable"})
    path.write_text(good + "\n\n{oops\n", encoding="utf-8")
    with pytest.raises(EvalFileError, match=r"bad\.jsonl:3: invalid JSON"):
        load_eval_items(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"question": "Q?", "answers": ["x"]}, "missing or empty 'id'"),
        ({"id": "a", "question": " ", "answers": ["x"]}, "'question'"),
        ({"id": "a", "question": "Q?", "answers": "x"}, "'answers' must be a list"),
        ({"id": "a", "question": "Q?", "answers": ["x"], "question_date": "16/06/2022"}, "YYYY-MM-DD"),
        ({"id": "a", "question": "Q?", "type": "factoid"}, "neither"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_invalid_items_are_rejected_with_line(tmp_path: Path, line: object, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(EvalFileError, match=r"q\.jsonl:1: ") as info:
        load_eval_items(path)
    assert message in str(info.value)


def test_duplicate_ids_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    row = json.dumps({"id": "a", "question": "Q?", "answers": ["x"]})
    path.write_text(f"{row}\n{row}\n", encoding="utf-8")
    with pytest.raises(EvalFileError, match=r"dup\.jsonl:2: duplicate id 'a' \(first on line 1\)"):
        load_eval_items(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(EvalFileError, match="no questions"):
        load_eval_items(empty)
    with pytest.raises(EvalFileError, match="can't read"):
        load_eval_items(tmp_path / "absent.jsonl")


def test_both_formats_normalize(tmp_path: Path) -> None:
    # A made-up line in the news set's shape (the real set is not copied into the repo).
    news = {
        "id": "rtqa-x_0",
        "question": "Which team won this week?",
        "answers": ["Team A"],
        "evidence_doc_ids": ["rtqa-abc"],
        "type": "negation",
        "choices": ["Team A", "Team B"],
        "question_date": "2022-06-16",
        "evidence_text": "A quiz explanation, not article text.",
    }
    seed = {
        "id": "seed-x",
        "question": "Who?",
        "answers": [],
        "evidence": None,
        "evidence_doc_ids": [],
        "type": "unanswerable",
    }
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(news) + "\n" + json.dumps(seed) + "\n", encoding="utf-8")
    first, second = load_eval_items(path)
    assert first == EvalItem(
        "rtqa-x_0", "Which team won this week?", ["Team A"], None, ["rtqa-abc"], True, "2022-06-16"
    )
    assert second == EvalItem("seed-x", "Who?", [], None, [], False, None)


def test_seed_eval_set_loads_and_quotes_the_seed() -> None:
    items = load_eval_items(ROOT / "evals" / "seed_qa.jsonl")
    seed_text = (ROOT / "seeds" / f"{SEED_ID}.txt").read_text(encoding="utf-8")
    assert len(items) >= 20
    assert sum(not it.answerable for it in items) >= 5
    for it in items:
        if it.answerable:
            assert it.evidence is not None and it.evidence in seed_text, it.id
            assert it.evidence_doc_ids == [SEED_ID], it.id
            assert it.answers, it.id
            for accepted in it.answers:
                assert accepted.lower() in seed_text.lower(), (it.id, accepted)
        else:
            assert it.evidence is None and not it.answers and not it.evidence_doc_ids, it.id
    assert any(it.question == "What conditions did Russia set?" for it in items)
