"""Feeds against real feeds and pages served over HTTP on 127.0.0.1.

A small threaded ``http.server`` serves an RSS feed (an article, a redirect, a
404, a huge page, a PDF, the same article under a second URL), an Atom feed
and a malformed one; it honours ``If-None-Match`` and logs every request, so
the tests see conditional requests and that seen items are never fetched
again.  Articles go into a real index with the real embedding model.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from qa.config import Settings
from qa.ingest.feed_store import FeedStore
from qa.ingest.feeds import FeedReader, doc_id_for
from qa.models.embedding import SentenceTransformerEmbedder
from qa.pipeline import Pipeline
from tests.conftest import ROOT, Server, make_pipeline

MAX_BYTES = 64 * 1024


def page(title: str, body: str) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/sports'>Sports section</a></nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        f"<footer>Copyright Harbour Gazette. Subscribe to our newsletter.</footer></body></html>"
    ).encode()


FERRY = page(
    "Ferry service resumes",
    "The ferry between Port Ellis and Kessel Island resumed service on Monday after a storm damaged the "
    "pier two weeks ago. The harbour master said repairs cost about 40,000 euros.\n\n"
    "Islanders had relied on a fishing boat for supplies while the pier was closed. The first ferry left "
    "at seven in the morning with forty passengers and a truck of groceries on board.",
)
BRIDGE = page(
    "Council approves new bridge",
    "The town council of Port Ellis voted on Tuesday to build a new footbridge over the Kessel river. "
    "Construction is to start in the spring and should take eighteen months.\n\n"
    "The bridge will link the railway station with the old town. Its cost, 2.3 million euros, is shared "
    "with the regional government, which agreed to pay two thirds of it.",
)
MARKET = page(
    "Night market opens",
    "A night market opened on the harbour front of Port Ellis on Friday, with sixty stalls selling fish, "
    "bread and crafts. Organisers counted more than three thousand visitors on its first evening.\n\n"
    "The market will open every Friday until the end of September, the organisers said.",
)


def rss(base: str) -> bytes:
    items = [
        ("Ferry service resumes", "/articles/ferry.html", "Mon, 03 Jun 2024 08:00:00 GMT"),
        ("Council approves new bridge", "/old/bridge", "Tue, 04 Jun 2024 09:30:00 GMT"),
        ("Missing story", "/articles/missing.html", "Tue, 04 Jun 2024 10:00:00 GMT"),
        ("Enormous story", "/articles/huge.html", "Tue, 04 Jun 2024 11:00:00 GMT"),
        ("Annual report", "/files/report.pdf", "Wed, 05 Jun 2024 12:00:00 GMT"),
        ("Ferry service resumes (syndicated)", "/syndicated/ferry.html", "Wed, 05 Jun 2024 13:00:00 GMT"),
    ]
    xml = "".join(
        f"<item><title>{t}</title><link>{base}{link}</link><pubDate>{d}</pubDate></item>"
        for t, link, d in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Gazette</title>'
        f"<link>{base}/</link><description>News</description>{xml}</channel></rss>"
    ).encode()


def atom(base: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Island Times</title><id>{base}/atom.xml</id><updated>2024-06-07T10:00:00Z</updated>"
        f'<entry><title>Night market opens</title><link href="{base}/articles/market.html"/>'
        f"<id>{base}/articles/market.html</id><updated>2024-06-07T10:00:00Z</updated></entry></feed>"
    ).encode()


class FeedSite:
    """Feeds and pages on 127.0.0.1, with a log of (path, If-None-Match) per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.etag = '"v1"'
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append((self.path, self.headers.get("If-None-Match")))
                base = f"http://127.0.0.1:{site.port}"
                if self.path == "/feed.xml":
                    if self.headers.get("If-None-Match") == site.etag:
                        self.send_response(304)
                        self.send_header("ETag", site.etag)
                        self.end_headers()
                        return
                    self.reply(200, rss(base), "application/rss+xml", {"ETag": site.etag})
                elif self.path == "/atom.xml":
                    self.reply(200, atom(base), "application/atom+xml")
                elif self.path == "/sloppy.xml":
                    body = f"<rss><channel><title>Sloppy &nbsp; Post</title><item><title>Market</title><link>{base}/articles/market.html</link></item>"
                    self.reply(200, body.encode(), "application/xml")
                elif self.path == "/broken.xml":
                    self.reply(
                        200, b"<rss><channel><title>Broken</title><item><title>Half", "application/xml"
                    )
                elif self.path == "/old/bridge":
                    self.send_response(301)
                    self.send_header("Location", "/articles/bridge.html")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path in ("/articles/ferry.html", "/syndicated/ferry.html"):
                    self.reply(200, FERRY, "text/html; charset=utf-8")
                elif self.path == "/articles/bridge.html":
                    self.reply(200, BRIDGE, "text/html; charset=utf-8")
                elif self.path == "/articles/market.html":
                    self.reply(200, MARKET, "text/html")
                elif self.path == "/articles/huge.html":
                    self.reply(200, page("Enormous", "word " * (MAX_BYTES // 2)), "text/html")
                elif self.path == "/files/report.pdf":
                    self.reply(200, b"%PDF-1.4 not really a pdf", "application/pdf")
                else:
                    self.reply(404, b"<html><body>Not found</body></html>", "text/html")

            def reply(
                self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def fetched(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[FeedSite]:
    s = FeedSite()
    yield s
    s.close()


def reader_for(pipeline: Pipeline) -> FeedReader:
    settings = pipeline.settings.model_copy(update={"feeds_max_bytes": MAX_BYTES, "feeds_timeout_s": 5.0})
    return FeedReader(settings, pipeline.add_articles)


@pytest.mark.slow
def test_poll_ingests_new_items_with_feed_metadata_and_reports_failures(
    site: FeedSite, tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    pipeline = make_pipeline(tmp_path / "index", embedder)
    store = FeedStore(tmp_path / "index")
    for path in ("/feed.xml", "/atom.xml", "/broken.xml", "/gone.xml", "/sloppy.xml"):
        store.add(site.url + path)
    reader = reader_for(pipeline)
    rss_report, atom_report, broken, gone, sloppy = reader.poll()

    ferry_id, bridge_id = (
        doc_id_for(f"{site.url}/articles/ferry.html"),
        doc_id_for(f"{site.url}/articles/bridge.html"),
    )
    assert rss_report.status == "ok" and rss_report.items == 6
    assert rss_report.added == [ferry_id, bridge_id]
    assert rss_report.duplicates == 1  # the syndicated copy of the ferry story
    problems = dict(rss_report.problems)
    assert "HTTP 404" in problems[f"{site.url}/articles/missing.html"]
    assert "larger than" in problems[f"{site.url}/articles/huge.html"]
    assert "not an HTML page" in problems[f"{site.url}/files/report.pdf"]
    assert len(problems) == 3

    ferry = pipeline.get_document(ferry_id)
    assert ferry.title == "Ferry service resumes" and ferry.source == "Harbour Gazette"
    assert ferry.published_at == "2024-06-03" and ferry.url == f"{site.url}/articles/ferry.html"
    assert "resumed service on Monday" in ferry.text and "newsletter" not in ferry.text
    bridge = pipeline.get_document(bridge_id)  # followed the redirect; the page's URL is kept
    assert bridge.url == f"{site.url}/articles/bridge.html" and bridge.published_at == "2024-06-04"

    assert atom_report.added and pipeline.get_document(atom_report.added[0]).source == "Island Times"
    assert broken.status == "error" and "not an RSS or Atom feed" in (broken.error or "")
    assert gone.status == "error" and "HTTP 404" in (gone.error or "")
    # Malformed but with a usable item: read leniently, with a warning; the market story came via Atom first.
    assert sloppy.status == "ok" and sloppy.warning and sloppy.seen == 1 and sloppy.ok

    answer = pipeline.ask("How much did the pier repairs cost?")
    assert answer.answered and answer.citations[0].doc_id == ferry_id

    # Second poll: the feed answers 304 to the ETag; nothing is fetched again or re-embedded.
    before = {p: site.fetched(p) for p in ("/articles/ferry.html", "/articles/market.html")}
    again = reader.poll([f"{site.url}/feed.xml", f"{site.url}/atom.xml"])
    assert again[0].status == "not_modified"
    assert ("/feed.xml", '"v1"') in site.requests
    assert again[1].status == "ok" and again[1].seen == 1 and again[1].added == []
    assert {p: site.fetched(p) for p in before} == before

    # A changed feed (new ETag) is read again: seen items are skipped, failed ones retried.
    site.etag = '"v2"'
    third = reader.poll([f"{site.url}/feed.xml"])[0]
    assert third.added == [] and third.seen == 3 and len(third.problems) == 3 and third.chunks_embedded == 0
    assert site.fetched("/articles/ferry.html") == before["/articles/ferry.html"]
    assert store.get(f"{site.url}/feed.xml").etag == '"v2"'
    reader.close()


@pytest.mark.slow
def test_cli_adds_and_polls_feeds(site: FeedSite, tmp_path: Path) -> None:
    index = tmp_path / "index"

    def qa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qa.cli", *args, "--index-dir", str(index)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=180,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "QA_FEEDS_TIMEOUT_S": "5"},
        )

    assert qa("feeds", "add", f"{site.url}/atom.xml", "--source", "Islanders").returncode == 0
    bad = qa("feeds", "add", "file:///etc/passwd")
    assert bad.returncode == 1 and "not an http(s) URL" in bad.stderr and "Traceback" not in bad.stderr
    polled = qa("feeds", "poll")
    assert polled.returncode == 0, polled.stderr
    assert "1 new" in polled.stdout
    listed = qa("feeds", "list")
    assert f"{site.url}/atom.xml\tIslanders\tok" in listed.stdout
    qa("feeds", "add", f"{site.url}/broken.xml")
    failed = qa("feeds", "poll")
    assert failed.returncode == 3 and "not an RSS or Atom feed" in failed.stdout


@pytest.mark.slow
def test_server_polls_feeds_on_an_interval(
    site: FeedSite, seed_index: Path, tmp_path: Path, start_server: object
) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    FeedStore(index).add(f"{site.url}/atom.xml")
    srv: Server = start_server(index, env={"QA_FEEDS_POLL_INTERVAL_S": "1"})  # type: ignore[operator]
    market_id = doc_id_for(f"{site.url}/articles/market.html")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = httpx.get(f"{srv.url}/documents/{market_id}", timeout=10)
        if r.status_code == 200:
            break
        time.sleep(0.5)
    assert r.status_code == 200, srv.output()
    assert r.json()["source"] == "Island Times"
    # More polls follow (this feed sends no ETag: fetched in full each time), but the page is never
    # fetched again. Waited for, not slept: a loaded machine may take seconds per poll.
    polls_before = site.fetched("/atom.xml")
    deadline = time.monotonic() + 30
    while site.fetched("/atom.xml") < polls_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert site.fetched("/atom.xml") >= polls_before + 2, srv.output()
    assert site.fetched("/articles/market.html") == 1


def test_settings_default_to_no_background_polling() -> None:
    assert Settings().feeds_poll_interval_s == 0
