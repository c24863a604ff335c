"""The embeddable chat widget (qa/server/static/widget.js) in a real browser.

Playwright drives Debian's Chromium (``apt-get install chromium``) against real
``qa serve`` subprocesses (tests/conftest.py's ``Server``) over a real index built
from the seed article plus one hostile article (HTML in its text, title and
source, for the XSS test).  Screenshots go
to ``artifacts/``; ``QA_UPDATE_DOCS_SCREENSHOT=1`` also refreshes ``docs/widget.png``.

Run: ``.venv/bin/pytest -m browser tests/test_widget_browser.py``
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SEED_ID, SEED_TEXT, SEEDS, Server, make_pipeline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
HOST_PAGE = Path(__file__).with_name("widget_host.html")
CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SEED_TITLE = json.loads((SEEDS / f"{SEED_ID}.meta.json").read_text("utf-8"))["title"]
XSS_TEXT = (
    "Good news for Springfield 🌉 this week. "  # an astral character: Python and JS count offsets differently
    "The mayor of Springfield announced a new bridge. "
    '<img src=x onerror="window.__pwned=1"> The bridge opens in May. '
    "The mayor said the bridge over the Springfield river cost twelve million dollars.\n"
)
XSS_META = {
    "id": "springfield-bridge",
    "title": 'Springfield <img src=y onerror="window.__pwned=2"> bridge news',
    "source": "Springfield <b>Gazette</b>",
    "published_at": "2025-05-02",
}

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 20_000  # one answer from the extractive backend takes about a second
SERVER_START_S = 90  # loading the embedding model on a slow machine
expect.set_options(timeout=TIMEOUT_MS)


# -- server -------------------------------------------------------------------------


def _build_index(tmp: Path, embedder) -> Path:
    """The seed article plus one article with HTML in its text, title and source."""
    corpus = tmp / "articles"
    corpus.mkdir()
    for path in SEEDS.iterdir():
        shutil.copy(path, corpus / path.name)
    (corpus / "springfield.txt").write_text(XSS_TEXT, "utf-8")
    (corpus / "springfield.meta.json").write_text(json.dumps(XSS_META), "utf-8")
    index_dir = tmp / "index"
    result = make_pipeline(index_dir, embedder).ingest([corpus])
    assert not result.problems, result.problems
    return index_dir


def _start(index_dir: Path, cors_origin: str = "") -> Server:
    srv = Server(index_dir, env={"QA_BACKEND": "extractive", "QA_CORS_ORIGINS": cors_origin})
    try:
        srv.wait_ready(SERVER_START_S)
    except Exception:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    return _build_index(tmp_path_factory.mktemp("widget"), embedder)


class OtherSite:
    """A plain HTTP server on another port, i.e. another origin, for cross-origin embedding."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def other_site() -> Iterator[OtherSite]:
    site = OtherSite()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def server(index_dir: Path, other_site: OtherSite) -> Iterator[Server]:
    srv = _start(index_dir, cors_origin=other_site.origin)
    yield srv
    srv.stop()


# -- browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: apt-get install -y chromium (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a skip there would hide a broken setup
        pytest.skip(message)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _new_page(browser, viewport: dict[str, int] = DESKTOP):
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return context, page


@pytest.fixture
def page(browser):
    context, pg = _new_page(browser)
    yield pg
    assert pg.js_errors == [], f"uncaught errors in the page: {pg.js_errors}"
    context.close()


def _host_page(page, base: str, attrs: str = "", *, widget: bool = True) -> None:
    """Serve tests/widget_host.html at BASE/host.html (same origin as the API) and open it."""
    tag = f'<script src="/widget.js" defer {attrs}></script>' if widget else ""
    html = HOST_PAGE.read_text("utf-8").replace("<!--WIDGET-->", tag)
    page.route(
        base + "/host.html", lambda route: route.fulfill(status=200, content_type="text/html", body=html)
    )
    page.goto(base + "/host.html")
    if widget:
        page.wait_for_function("() => !!window.QAWidget && !!document.querySelector('qa-chat-widget')")


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


# Playwright's CSS locators pierce open shadow roots.
PANEL = "qa-chat-widget [role=dialog]"
INPUT = "qa-chat-widget textarea.qa-input"
SEND = "qa-chat-widget button.qa-send"
LAUNCHER = "qa-chat-widget button.qa-launcher"
ANSWERS = "qa-chat-widget .qa-assistant:not(.qa-pending):not(.qa-streaming)"


def _ask(page, question: str) -> None:
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")


def _wait_answers(page, count: int):
    answers = page.locator(ANSWERS)
    expect(answers).to_have_count(count)
    return answers.nth(count - 1)


# -- tests --------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_streamed_answer_with_citations(browser, server: Server, viewport: dict[str, int]) -> None:
    context, page = _new_page(browser, viewport)
    try:
        page.goto(server.url + "/")
        panel = page.locator(PANEL)
        expect(panel).to_be_visible()  # the demo page embeds it with data-open="true"
        expect(page.locator("qa-chat-widget [role=log]")).to_have_attribute("aria-live", "polite")
        if viewport is PHONE:
            box = panel.bounding_box()
            assert box is not None and box["x"] == 0 and box["width"] == PHONE["width"]

        # Count the text updates of the answer bubble: token events are rendered as they arrive.
        page.locator("qa-chat-widget [role=log]").evaluate(
            """log => { window.__textUpdates = 0;
                new MutationObserver(ms => { window.__textUpdates += ms.filter(m => m.type === 'characterData').length; })
                    .observe(log, {subtree: true, characterData: true}); }"""
        )
        with page.expect_response(lambda r: r.url.endswith("/chat/stream")) as response_info:
            _ask(page, "What conditions did Russia set?")
        response = response_info.value
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")

        answer = _wait_answers(page, 1)
        expect(answer).to_have_attribute("data-answered", "true")
        cites = answer.locator("sup button.qa-cite")
        expect(cites.first).to_be_visible()
        expect(answer.locator(".qa-text")).to_contain_text("conditions")
        assert page.evaluate("window.__textUpdates") > 3
        assert "[1]" in cites.first.inner_text()
        # The markers became buttons: no raw "[1]" is left in the text nodes.
        raw = answer.locator(".qa-text").evaluate(
            "el => Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.data).join('')"
        )
        assert "[1]" not in raw
        expect(page.locator(SEND)).to_be_enabled()

        suffix = "" if viewport is DESKTOP else "-phone"
        _shot(page, f"widget-panel{suffix}.png")
        if viewport is DESKTOP and os.environ.get("QA_UPDATE_DOCS_SCREENSHOT") == "1":
            (ROOT / "docs").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "docs" / "widget.png"))
        assert page.js_errors == []
    finally:
        context.close()


def test_citation_opens_highlighted_passage(page, server: Server) -> None:
    page.goto(server.url + "/")
    _ask(page, "What conditions did Russia set?")
    answer = _wait_answers(page, 1)
    cite = answer.locator("button.qa-cite").first
    cite.click()

    source = page.locator("qa-chat-widget .qa-source")
    expect(source).to_be_visible()
    expect(source.locator(".qa-source-title")).to_have_text(SEED_TITLE)
    expect(source.locator(".qa-source-meta")).to_contain_text("Source not recorded")
    mark = source.locator("mark")
    expect(mark).to_have_count(1)
    expect(source.locator(".qa-source-note")).to_have_text("")  # the article loaded
    marked = mark.inner_text()
    assert "conditions" in marked
    assert marked in SEED_TEXT
    # The passage shows context around the cited span, all of it from the article.
    passage = source.locator(".qa-passage").inner_text()
    assert len(passage) > len(marked) + 100
    for part in passage.strip("…").split(marked):
        assert part.strip("…") in SEED_TEXT
    _shot(page, "widget-citation.png")

    # Esc goes back to the chat and to the citation that opened the source.
    page.keyboard.press("Escape")
    expect(source).to_be_hidden()
    expect(page.locator(PANEL)).to_be_visible()
    expect(cite).to_be_focused()


def test_citation_falls_back_to_cited_text_when_article_fails(page, server: Server) -> None:
    page.route("**/documents/**", lambda route: route.fulfill(status=503, json={"detail": "index busy"}))
    page.goto(server.url + "/")
    _ask(page, "What conditions did Russia set?")
    _wait_answers(page, 1).locator("button.qa-cite").first.click()
    source = page.locator("qa-chat-widget .qa-source")
    expect(source.locator(".qa-source-note")).to_contain_text("index busy")
    expect(source.locator("mark")).to_contain_text("conditions")


def test_declined_answer_looks_distinct(page, server: Server) -> None:
    page.goto(server.url + "/")
    _ask(page, "Who won the 2024 Eurovision Song Contest?")
    answer = _wait_answers(page, 1)
    expect(answer).to_have_class("qa-msg qa-assistant qa-declined")
    expect(answer).to_have_attribute("data-answered", "false")
    expect(answer.locator(".qa-label")).to_have_text("Not in the articles")
    expect(answer.locator("button.qa-cite")).to_have_count(0)
    colors = answer.evaluate("el => getComputedStyle(el).backgroundColor")
    _ask(page, "What conditions did Russia set?")
    answered = _wait_answers(page, 2)
    assert answered.evaluate("el => getComputedStyle(el).backgroundColor") != colors


def test_follow_up_sends_the_conversation_and_survives_reload(page, server: Server) -> None:
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: bodies.append(r.post_data_json) if r.url.endswith("/chat/stream") else None,
    )
    page.goto(server.url + "/")
    first_q = "What conditions did Russia set?"
    _ask(page, first_q)
    first = _wait_answers(page, 1)
    expect(first.locator("button.qa-cite").first).to_be_visible()
    _ask(page, "Who is the Kremlin spokesperson?")
    _wait_answers(page, 2)

    assert len(bodies) == 2
    assert bodies[0]["messages"] == [{"role": "user", "content": first_q}]
    turns = bodies[1]["messages"]
    assert [m["role"] for m in turns] == ["user", "assistant", "user"]
    assert turns[0]["content"] == first_q
    assert "conditions" in turns[1]["content"] and "[1]" in turns[1]["content"]
    assert turns[2]["content"] == "Who is the Kremlin spokesperson?"

    # sessionStorage keeps the conversation across a reload, citations included.
    page.reload()
    expect(page.locator(ANSWERS)).to_have_count(2)
    expect(page.locator("qa-chat-widget .qa-user")).to_have_count(2)
    expect(page.locator(ANSWERS).first.locator("button.qa-cite").first).to_be_visible()
    _ask(page, "And what did Zelensky say?")
    _wait_answers(page, 3)
    assert [m["role"] for m in bodies[2]["messages"]] == ["user", "assistant"] * 2 + ["user"]

    # "New" starts over.
    page.locator("qa-chat-widget button.qa-new").click()
    expect(page.locator(ANSWERS)).to_have_count(0)
    page.reload()
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(ANSWERS)).to_have_count(0)


def test_server_down_shows_error_and_retry(browser, index_dir: Path) -> None:
    srv = _start(index_dir)
    context, page = _new_page(browser)
    try:
        page.goto(srv.url + "/")
        expect(page.locator(PANEL)).to_be_visible()
        srv.stop()
        _ask(page, "What conditions did Russia set?")
        error = page.locator("qa-chat-widget .qa-error")
        expect(error).to_be_visible()
        expect(error).to_have_attribute("role", "alert")
        expect(error).to_contain_text("Can't reach the question service")
        expect(error.locator("button.qa-retry")).to_be_visible()
        expect(page.locator(SEND)).to_be_enabled()
        error.locator("button.qa-retry").click()
        expect(page.locator("qa-chat-widget .qa-error")).to_have_count(1)  # failed again, one message
        expect(page.locator(SEND)).to_be_enabled()
        assert page.js_errors == []
    finally:
        context.close()
        srv.stop()


def test_http_errors_and_stream_errors_are_readable(page, server: Server) -> None:
    replies = [
        {
            "status": 429,
            "headers": {"Retry-After": "7"},
            "json": {"detail": "Too many questions: slow down."},
        },
        {"status": 502, "json": {"detail": "the LLM provider timed out"}},
        {
            "status": 200,
            "content_type": "text/event-stream",
            "body": 'event: token\r\ndata: {"text": "Partial "}\r\n\r\nevent: error\r\ndata: {"detail": "backend exploded"}\r\n\r\n',
        },
    ]
    expected = ["Too many questions: slow down. Try again in 7 s.", "HTTP 502", "backend exploded"]

    def reply(route):
        route.fulfill(**replies.pop(0)) if replies else route.continue_()

    page.route("**/chat/stream", reply)
    page.goto(server.url + "/")
    _ask(page, "What conditions did Russia set?")
    for i, text in enumerate(expected):
        error = page.locator("qa-chat-widget .qa-error")
        expect(error).to_contain_text(text)
        expect(page.locator(SEND)).to_be_enabled()
        if i < len(expected) - 1:
            error.locator("button.qa-retry").click()
    # The last retry goes to the real server and succeeds; the failed question is asked once.
    page.locator("qa-chat-widget .qa-error button.qa-retry").click()
    expect(page.locator("qa-chat-widget .qa-error")).to_have_count(0)
    expect(_wait_answers(page, 1).locator("button.qa-cite").first).to_be_visible()
    expect(page.locator("qa-chat-widget .qa-user")).to_have_count(1)


def test_timeout_aborts_with_readable_message(page, server: Server) -> None:
    page.route("**/chat/stream", lambda route: None)  # never answered
    _host_page(page, server.url, 'data-timeout="1" data-open="true"')
    _ask(page, "What conditions did Russia set?")
    error = page.locator("qa-chat-widget .qa-error")
    expect(error).to_contain_text("took too long", timeout=5000)
    expect(page.locator(SEND)).to_be_enabled()


def test_article_html_is_shown_as_text_not_run(page, server: Server) -> None:
    page.goto(server.url + "/")
    _ask(page, "What did the mayor of Springfield announce?")
    answer = _wait_answers(page, 1)
    cite = answer.locator("button.qa-cite").first
    expect(cite).to_be_visible()
    cite.click()
    source = page.locator("qa-chat-widget .qa-source")
    expect(source.locator(".qa-source-title")).to_have_text(XSS_META["title"])
    expect(source.locator(".qa-passage")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    expect(source.locator(".qa-source-meta")).to_contain_text("Springfield <b>Gazette</b>")
    marked = source.locator("mark").inner_text()
    assert marked.startswith("The mayor of Springfield") and marked in XSS_TEXT
    assert page.locator("qa-chat-widget img").count() == 0
    assert page.locator("qa-chat-widget b").count() == 0
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    _shot(page, "widget-xss.png")


def test_styles_do_not_leak_either_way(page, server: Server) -> None:
    probe = """() => {
        const s = getComputedStyle(document.getElementById('host-p'));
        const b = getComputedStyle(document.getElementById('host-button'));
        return [s.color, s.fontFamily, s.fontSize, s.fontStyle, s.letterSpacing, b.backgroundColor, b.color];
    }"""
    _host_page(page, server.url, widget=False)
    before = page.evaluate(probe)
    _host_page(page, server.url, 'data-open="true" data-position="left"')
    expect(page.locator(PANEL)).to_be_visible()
    assert page.evaluate(probe) == before
    assert before[0] == "rgb(200, 0, 0)" and before[2] == "22px"

    def style(selector: str, prop: str) -> str:
        return page.locator(selector).evaluate(f"el => getComputedStyle(el).{prop}")

    for button in (LAUNCHER, SEND, "qa-chat-widget button.qa-close"):
        assert style(button, "backgroundColor") != "rgb(255, 0, 0)", button
        assert style(button, "color") != "rgb(255, 255, 0)", button
    log = "qa-chat-widget [role=log]"
    assert style(log, "color") != "rgb(10, 20, 30)"  # not inherited from the page's body
    assert style(log, "letterSpacing") == "normal"
    assert "Georgia" not in style(log, "fontFamily")
    assert style(log, "backgroundColor") != "rgb(0, 128, 0)"
    # data-position="left" puts launcher and panel on the left.
    assert page.locator(LAUNCHER).bounding_box()["x"] < DESKTOP["width"] / 2


def test_keyboard_focus_and_busy_state(page, server: Server) -> None:
    # Hold each /chat/stream request for a moment, so the in-flight state is observable.
    page.add_init_script(
        """(() => {
            const realFetch = window.fetch;
            window.fetch = (url, init) => String(url).endsWith('/chat/stream')
                ? new Promise(r => setTimeout(r, 700)).then(() => realFetch(url, init))
                : realFetch(url, init);
        })();"""
    )
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/chat/stream") else None)
    _host_page(page, server.url, 'data-title="News desk" data-placeholder="Ask me"')
    panel = page.locator(PANEL)
    launcher = page.locator(LAUNCHER)
    expect(panel).to_be_hidden()
    expect(launcher).to_have_attribute("aria-label", "Open News desk")
    expect(launcher).to_have_attribute("aria-expanded", "false")

    launcher.click()
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("aria-labelledby", panel.locator("h2").get_attribute("id"))
    expect(panel.locator("h2")).to_have_text("News desk")
    expect(page.locator(INPUT)).to_be_focused()
    expect(page.locator(INPUT)).to_have_attribute("placeholder", "Ask me")
    expect(launcher).to_have_attribute("aria-expanded", "true")

    # Shift+Enter is a newline, not a send.
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.locator(INPUT)).to_have_value("first line\nsecond line")
    assert requests == []

    page.locator(INPUT).fill("What conditions did Russia set?")
    page.keyboard.press("Enter")
    expect(page.locator(SEND)).to_be_disabled()
    expect(page.locator(INPUT)).to_have_value("")
    page.keyboard.type("Who is the Kremlin spokesperson?")
    page.keyboard.press("Enter")  # ignored while the first question is in flight
    _wait_answers(page, 1)
    expect(page.locator(SEND)).to_be_enabled()
    assert len(requests) == 1
    expect(page.locator(INPUT)).to_have_value("Who is the Kremlin spokesperson?")

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")  # the launcher has focus: Enter reopens
    expect(panel).to_be_visible()
    expect(page.locator(INPUT)).to_be_focused()


def test_embedded_on_another_origin_uses_the_script_origin_and_api_key(
    page, server: Server, other_site: OtherSite
) -> None:
    html = HOST_PAGE.read_text("utf-8").replace(
        "<!--WIDGET-->",
        f'<script src="{server.url}/widget.js" defer data-api-key="k-123" data-open="true"></script>',
    )
    other_site.pages["/article.html"] = html.encode()
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if r.url == server.url + "/chat/stream" else None)
    page.goto(other_site.origin + "/article.html")
    expect(page.locator(PANEL)).to_be_visible()
    assert page.evaluate("window.QAWidget.options.url") == server.url
    _ask(page, "What conditions did Russia set?")
    expect(_wait_answers(page, 1).locator("button.qa-cite").first).to_be_visible()
    assert sent and sent[-1].get("x-api-key") == "k-123"
