"""Timeline answers (issue 13): detected from the parsed question or asked with mode "timeline"; dated,
cited events, oldest first, one per origin; over HTTP with a 422 for an unknown mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from qa.answer.timeline import is_timeline_question
from qa.models.nlp import Annotator
from qa.pipeline import Pipeline
from qa.types import Article
from tests.conftest import articles_pipeline

pytestmark = pytest.mark.slow

DAY1 = (
    "Tropical Storm Orla formed in the Caribbean on Sunday and is expected to strengthen. "
    "Forecasters said Orla could reach Florida by Wednesday as a major hurricane."
)
DAY3 = (
    "Hurricane Orla made landfall near Tampa, Florida on Wednesday as a Category 3 storm. "
    "Hurricane Orla knocked out power to a million homes across western Florida."
)
DAY5 = (
    "Florida began cleaning up on Friday after Hurricane Orla moved out into the Atlantic. "
    "Hurricane Orla left at least 12 people dead in Florida, officials said."
)
ARTICLES = [
    Article("orla-1", DAY1, "Storm Orla forms", "CNN", "2022-10-02"),
    Article("orla-3", DAY3, "Hurricane Orla hits Florida", "USA Today", "2022-10-05"),
    # A wire copy of the landfall report: one event, not two.
    Article("orla-3-copy", DAY3, "Hurricane Orla hits Florida", "AP", "2022-10-05"),
    Article("orla-5", DAY5, "Florida cleans up after Orla", "CNN", "2022-10-07"),
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Pipeline:
    return articles_pipeline(tmp_path_factory, embedder, "timeline", ARTICLES)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What happened with Hurricane Orla?", True),
        ("How did the Hurricane Orla recovery unfold?", True),
        ("How has the crisis in Sri Lanka developed?", True),
        ("What is the timeline of the Artemis launch attempts?", True),
        ("How many people died in Florida after Hurricane Orla?", False),
        ("Who won the election in Colombia?", False),
        ("What happened to the price of bitcoin on Monday?", True),
        ("Where did the hurricane go after Florida?", False),
    ],
)
def test_timeline_questions_are_read_from_the_parse(question: str, expected: bool) -> None:
    sent = Annotator().annotate([question], persist=False)[0]
    assert is_timeline_question(sent) is expected


def test_a_timeline_lists_dated_cited_events_oldest_first_once_per_origin(pipeline: Pipeline) -> None:
    answer = pipeline.ask("What happened with Hurricane Orla?")
    assert answer.answered and answer.timeline, answer
    dates = [e.date for e in answer.timeline]
    assert dates == sorted(dates) and len(set(dates)) >= 2
    by_n = {c.n: c for c in answer.citations}
    docs = [by_n[e.citation].doc_id for e in answer.timeline]
    assert not {"orla-3", "orla-3-copy"} <= set(docs), docs  # the copy is not a second event
    for event in answer.timeline:
        citation = by_n[event.citation]
        article = next(a for a in ARTICLES if a.id == citation.doc_id)
        assert article.text[citation.start : citation.end] == citation.text == event.text
        assert event.date == article.published_at
        assert f"[{event.citation}]" in answer.answer
    assert answer.answer.splitlines()[0].startswith("October 2, 2022: ")


def test_mode_answer_never_gives_a_timeline(pipeline: Pipeline) -> None:
    answer = pipeline.ask("What happened with Hurricane Orla?", mode="answer")
    assert not answer.timeline
    explicit = pipeline.ask("Hurricane Orla in Florida", mode="timeline")
    assert explicit.timeline and [e.date for e in explicit.timeline] == sorted(
        e.date for e in explicit.timeline
    )


def test_as_of_keeps_later_events_out(pipeline: Pipeline) -> None:
    answer = pipeline.ask("What happened with Hurricane Orla?", as_of="2022-10-05")
    assert answer.timeline and all(e.date <= "2022-10-05" for e in answer.timeline)


def test_mode_over_http(pipeline: Pipeline, start_server: object, tmp_path: Path) -> None:
    copy = tmp_path / "index"
    shutil.copytree(pipeline.index_dir, copy)
    srv = start_server(copy)  # type: ignore[operator]
    r = httpx.post(
        f"{srv.url}/ask", json={"question": "Hurricane Orla in Florida", "mode": "timeline"}, timeout=60
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timeline"] and {"date", "text", "citation"} == set(body["timeline"][0])
    bad = httpx.post(f"{srv.url}/ask", json={"question": "Orla", "mode": "story"}, timeout=30)
    assert bad.status_code == 422 and "mode" in bad.text
    chat = httpx.post(
        f"{srv.url}/chat",
        json={
            "messages": [{"role": "user", "content": "What happened with Hurricane Orla?"}],
            "mode": "answer",
        },
        timeout=60,
    )
    assert chat.status_code == 200 and chat.json()["timeline"] == []
