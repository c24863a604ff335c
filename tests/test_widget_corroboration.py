"""The chat widget shows corroboration (issue 13): badges for the other outlets that state an answer
sentence, copies of one report counted once, a "sources differ" marker that opens both passages side
by side, and a date on every citation.

Real parts only: Playwright drives Debian's Chromium against a real ``qa serve`` over an index of five
small articles about one earthquake.  Three outlets carry the same wire report (41 dead), a local paper
states the same toll in its own words, and a paper three days later reports 63: the service's verifier
(not the test) finds who agrees and who differs.  One outlet's name holds HTML, which must show as text.

Run: ``.venv/bin/pytest -m browser tests/test_widget_corroboration.py``
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.types import Article
from tests import test_widget_browser as widget
from tests.conftest import Server, make_pipeline
from tests.test_widget_browser import ANSWERS, PANEL, SERVER_START_S, _ask, _shot, _wait_answers, expect

browser = widget.browser  # the Chromium and page fixtures, shared with the other widget tests
page = widget.page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIRE = (
    "A magnitude 6.8 earthquake struck the mountain province of Valdoria early on Tuesday, the national "
    "seismic service said. At least 41 people were killed in Valdoria by the earthquake, civil defense "
    "officials said Tuesday. The quake toppled hundreds of stone houses in villages around the town of "
    "Brenna. Rescue teams with sniffer dogs worked through the night to reach people trapped under rubble. "
    "Aftershocks rattled the region for hours, and many residents slept outdoors in the cold."
)
LOCAL = (
    "Families in Brenna spent a second night outdoors on Wednesday after the disaster destroyed their homes. "
    "Civil defense officials said at least 41 people were killed in Valdoria by Tuesday's earthquake. "
    "Aid trucks carrying tents and blankets reached the province from the capital. "
    "Hospitals in the region said they were treating more than two hundred injured people."
)
LATER = (
    "The death toll from the Valdoria earthquake rose sharply on Friday as rescuers reached remote hamlets. "
    "At least 63 people were killed in Valdoria by the earthquake, civil defense officials said Friday. "
    "The government declared three days of national mourning. "
    "Engineers began inspecting schools and bridges in the province for structural damage."
)
LOCAL_OUTLET = "Brenna <i>Post</i>"  # HTML in an outlet name: shown as text, never parsed
WIRE_OUTLETS = {
    "ap-quake-herald": "Harbor Herald",
    "ap-quake-courier": "Daily Courier",
    "ap-quake-sentinel": "Sentinel",
}
ARTICLES = [
    *(
        Article(doc_id, WIRE, "Deadly quake hits Valdoria", name, "2024-03-12")
        for doc_id, name in WIRE_OUTLETS.items()
    ),
    Article("brenna-post", LOCAL, "Brenna families sleep outdoors", LOCAL_OUTLET, "2024-03-13"),
    Article("quake-toll-rises", LATER, "Valdoria quake toll rises", "Valdoria Times", "2024-03-15"),
]
TEXTS = {a.id: a.text for a in ARTICLES}
QUESTION = "How many people were killed in the Valdoria earthquake?"
TOLL_41 = (
    "At least 41 people were killed in Valdoria by the earthquake, civil defense officials said Tuesday."
)
TOLL_63 = "At least 63 people were killed in Valdoria by the earthquake, civil defense officials said Friday."
DATES = {"2024-03-12": "Mar 12, 2024", "2024-03-13": "Mar 13, 2024", "2024-03-15": "Mar 15, 2024"}

CORRO = "qa-chat-widget .qa-corro"
COMPARE = "qa-chat-widget .qa-compare"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Iterator[Server]:
    index_dir: Path = tmp_path_factory.mktemp("widget-corro") / "index"
    make_pipeline(index_dir, embedder).add_articles(ARTICLES)
    srv = Server(index_dir, env={"QA_BACKEND": "extractive"})
    try:
        srv.wait_ready(SERVER_START_S)
        yield srv
    finally:
        srv.stop()


def _wire_group(answer):
    """The corroboration group of the answer sentence cited from the wire report (41 dead)."""
    groups = answer.locator(".qa-corro")
    for i in range(groups.count()):
        group = groups.nth(i)
        n = group.get_attribute("data-citation")
        if "Deadly quake hits Valdoria" in answer.locator(f".qa-sources button[data-n='{n}']").inner_text():
            return group
    raise AssertionError("no corroboration group for the wire report's sentence")


def test_badges_copies_and_dates_on_a_streamed_answer(page, server: Server) -> None:
    page.goto(server.url + "/")
    with page.expect_response(lambda r: r.url.endswith("/chat/stream")) as response_info:
        _ask(page, QUESTION)
    assert response_info.value.headers["content-type"].startswith("text/event-stream")
    answer = _wait_answers(page, 1)
    expect(answer).to_have_attribute("data-answered", "true")
    expect(answer.locator(".qa-corro").first).to_be_visible()

    # The sentence with the wire report's toll: the other copies and the local paper as badges.
    group = _wire_group(answer)
    cited_n = group.get_attribute("data-citation")
    cited_outlet = answer.locator(f".qa-sources button[data-n='{cited_n}']").inner_text()
    badges = group.locator("button.qa-badge")
    by_doc = {badges.nth(i).get_attribute("data-doc-id"): badges.nth(i) for i in range(badges.count())}
    cited_doc = next(d for d, name in WIRE_OUTLETS.items() if name in cited_outlet)
    assert set(by_doc) == set(WIRE_OUTLETS) - {cited_doc} | {"brenna-post"}, by_doc.keys()
    for doc_id, badge in by_doc.items():
        article = next(a for a in ARTICLES if a.id == doc_id)
        expect(badge).to_have_text(f"{article.source} · {DATES[article.published_at or '']}")
        title = badge.get_attribute("title") or ""
        quoted = title.split("”")[0].lstrip("“")
        assert quoted and quoted in article.text, title  # hover shows the outlet's own sentence
    assert "Civil defense officials said at least 41" in (by_doc["brenna-post"].get_attribute("title") or "")
    # Three outlets carry one wire report: the other two copies sit in one origin, the local paper apart.
    origin = group.locator(".qa-origin")
    expect(origin).to_have_count(1)
    expect(origin.locator(".qa-copies")).to_have_text("3 outlets carry the same report:")
    copies = {origin.locator("button.qa-badge").nth(i).get_attribute("data-doc-id") for i in range(2)}
    expect(origin.locator("button.qa-badge")).to_have_count(2)
    assert copies == set(WIRE_OUTLETS) - {cited_doc}
    assert "3 outlets carry the same report" in (group.get_attribute("title") or "")  # the service's line
    # The HTML in an outlet's name is text.
    assert page.locator("qa-chat-widget i").count() == 0
    assert "<i>Post</i>" in by_doc["brenna-post"].inner_text()

    # Dates on every citation: the inline markers and the sources list.
    cites = answer.locator("button.qa-cite")
    assert cites.count() >= 2
    for i in range(cites.count()):
        assert any(d in (cites.nth(i).get_attribute("title") or "") for d in DATES.values())
    links = answer.locator(".qa-sources button.qa-source-link")
    for i in range(links.count()):
        assert any(d in links.nth(i).inner_text() for d in DATES.values())

    # A badge opens its article at the sentence; Esc goes back to the badge.
    badge = by_doc["brenna-post"]
    badge.click()
    source = page.locator("qa-chat-widget .qa-source")
    expect(source.locator("mark")).to_have_text(
        "Civil defense officials said at least 41 people were killed in Valdoria by Tuesday's earthquake."
    )
    expect(source.locator(".qa-source-meta")).to_contain_text("Mar 13, 2024")
    page.keyboard.press("Escape")
    expect(source).to_be_hidden()
    expect(badge).to_be_focused()
    _shot(page, "widget-corroboration.png")

    # sessionStorage keeps the sources: a reload shows the same badges and marker.
    count = page.locator("qa-chat-widget button.qa-badge").count()
    page.reload()
    expect(page.locator(ANSWERS)).to_have_count(1)
    expect(page.locator("qa-chat-widget button.qa-badge")).to_have_count(count)
    expect(page.locator("qa-chat-widget button.qa-differ").first).to_be_visible()


def test_sources_differ_opens_both_passages_side_by_side(page, server: Server) -> None:
    page.goto(server.url + "/")
    _ask(page, QUESTION)
    answer = _wait_answers(page, 1)
    group = _wire_group(answer)
    differ = group.locator("button.qa-differ")
    expect(differ).to_have_text("⚠ Sources differ")
    expect(differ).to_have_attribute("aria-expanded", "false")
    expect(differ).to_have_attribute("aria-haspopup", "dialog")

    # From the keyboard: focus the marker, Enter opens the comparison, focus moves into it.
    differ.focus()
    page.keyboard.press("Enter")
    compare = page.locator(COMPARE)
    expect(compare).to_be_visible()
    expect(differ).to_have_attribute("aria-expanded", "true")
    expect(compare.locator("button.qa-back")).to_be_focused()
    expect(compare).to_have_attribute("aria-labelledby", compare.locator("h3").get_attribute("id") or "")

    panes = compare.locator("figure.qa-pane")
    expect(panes).to_have_count(2)
    cited, other = panes.nth(0), panes.nth(1)
    expect(cited.locator(".qa-pane-label")).to_have_text(
        "Cited [" + group.get_attribute("data-citation") + "]"
    )
    expect(cited.locator(".qa-passage")).to_have_text(TOLL_41)
    expect(cited.locator(".qa-pane-meta")).to_contain_text("Mar 12, 2024")
    # The differing report is newer: the service marks it as the update ("updates"), the widget says so.
    expect(other.locator(".qa-pane-label")).to_have_text(re.compile(r"^Newer report \[\d+\]$"))
    expect(other.locator(".qa-passage")).to_have_text(TOLL_63)
    expect(other.locator(".qa-pane-meta")).to_have_text("Valdoria Times · Mar 15, 2024")
    expect(other).to_have_attribute("data-doc-id", "quake-toll-rises")
    # The character spans are where each passage is in its article.
    for pane in (cited, other):
        span = pane.locator(".qa-pane-span").inner_text()
        start, end = (int(x) for x in span.split()[1].split("–"))
        text = TEXTS[pane.get_attribute("data-doc-id") or ""]
        assert text[start:end] == pane.locator(".qa-passage").inner_text(), span
    # Side by side: the differing passage is to the right of the cited one, on the same row.
    a, b = cited.bounding_box(), other.bounding_box()
    assert a and b and b["x"] >= a["x"] + a["width"] - 1 and abs(b["y"] - a["y"]) < 5, (a, b)
    expect(compare.locator(".qa-compare-summary")).to_contain_text("published 3 days later")
    _shot(page, "widget-sources-differ.png")

    # Tab reaches the pane's article link; it opens the article, Esc comes back to the comparison.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(other.locator("button.qa-pane-open")).to_be_focused()
    page.keyboard.press("Enter")
    source = page.locator("qa-chat-widget .qa-source")
    expect(source.locator("mark")).to_have_text(TOLL_63)
    page.keyboard.press("Escape")
    expect(source).to_be_hidden()
    expect(compare).to_be_visible()
    expect(other.locator("button.qa-pane-open")).to_be_focused()

    # Esc closes the comparison, focus goes back to the marker; the panel stays open.
    page.keyboard.press("Escape")
    expect(compare).to_be_hidden()
    expect(differ).to_be_focused()
    expect(differ).to_have_attribute("aria-expanded", "false")
    expect(page.locator(PANEL)).to_be_visible()
    # The back button closes it too.
    differ.click()
    expect(compare).to_be_visible()
    compare.locator("button.qa-back").click()
    expect(compare).to_be_hidden()


def test_answer_without_sources_or_with_odd_ones_still_renders(page, server: Server) -> None:
    """An older server (no ``sources``), and malformed blocks: the answer and citations still show."""
    odd: list[object] = [
        None,
        [{"citation": 1, "supported_by": None, "contradicted_by": "x"}],
        [{"citation": 9, "supported_by": [{"doc_id": "nope"}]}, "junk"],
    ]

    def strip(payload: dict) -> None:
        replacement = odd.pop(0)
        if replacement is None:
            payload.pop("sources", None)
        else:
            payload["sources"] = replacement

    page.route("**/chat/stream", lambda route: _rewrite_final(route, strip))
    page.goto(server.url + "/")
    for i in range(3):
        _ask(page, QUESTION)
        answer = _wait_answers(page, i + 1)
        expect(answer.locator("button.qa-cite").first).to_be_visible()
        expect(answer.locator(".qa-corro")).to_have_count(0)
        expect(answer.locator(".qa-text")).to_contain_text("people were killed")


def _rewrite_final(route, change) -> None:
    """Fetch the real streamed answer and pass its final event through ``change(payload)``."""
    body = route.fetch().text()
    head, _, final = body.rpartition("event: final\n")
    payload = json.loads(final.split("data: ", 1)[1].split("\n", 1)[0])
    change(payload)
    route.fulfill(
        status=200,
        content_type="text/event-stream",
        body=head + "event: final\ndata: " + json.dumps(payload) + "\n\n",
    )


def test_time_aware_fields_are_shown_when_present(page, server: Server) -> None:
    """``as_of``, ``updates``/``earlier`` per sentence and a ``timeline`` (issue 13 items 3-4) are
    shown when the service sends them: here added to the real answer in their documented shape."""

    def time_aware(payload: dict) -> None:
        cites = {c["n"]: c for c in payload["citations"]}
        older = next(b for b in payload["sources"] if "41 people" in b["sentence"])
        newer_n = next(n for n, c in cites.items() if c["doc_id"] == "quake-toll-rises")
        update = next(r for r in older["contradicted_by"] if r["doc_id"] == "quake-toll-rises")
        older["as_of"] = cites[older["citation"]]["published_at"]
        older["updates"] = [{**update, "citation": newer_n}]
        older["earlier"] = []
        payload["timeline"] = [
            {"date": c["published_at"], "text": c["text"], "citation": c["n"]}
            for c in sorted(cites.values(), key=lambda c: c["published_at"])
        ]

    page.route("**/chat/stream", lambda route: _rewrite_final(route, time_aware))
    page.goto(server.url + "/")
    _ask(page, QUESTION)
    answer = _wait_answers(page, 1)
    group = _wire_group(answer)
    expect(group.locator(".qa-asof").first).to_have_text("As of Mar 12, 2024")
    expect(group.locator(".qa-updated")).to_have_text("Updated Mar 15, 2024")
    group.locator("button.qa-differ").click()
    panes = page.locator(COMPARE).locator("figure.qa-pane")
    expect(panes).to_have_count(2)  # the update is also the contradicting passage: shown once
    expect(panes.nth(1).locator(".qa-pane-label")).to_have_text(re.compile(r"^Newer report \[\d\]$"))
    expect(panes.nth(1).locator(".qa-passage")).to_have_text(TOLL_63)
    page.keyboard.press("Escape")

    # The timeline replaces the answer text (a timeline answer's text lists the same events).
    timeline = answer.locator(".qa-text ol.qa-timeline li")
    expect(timeline).to_have_count(2)
    expect(answer.locator(".qa-text")).to_have_count(1)
    expect(timeline.nth(0)).to_contain_text("Mar 12, 2024")
    expect(timeline.nth(0)).to_contain_text(TOLL_41)
    expect(timeline.nth(1)).to_contain_text("Mar 15, 2024")
    expect(timeline.nth(1).locator("button.qa-cite")).to_have_count(1)
    # Each event keeps its sentence's corroboration: the wire report's event has its badges and marker.
    expect(timeline.nth(0).locator(".qa-corro button.qa-badge")).to_have_count(3)
    expect(timeline.nth(0).locator(".qa-corro button.qa-differ")).to_have_count(1)
