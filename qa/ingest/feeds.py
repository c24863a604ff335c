"""News feeds: subscribe to RSS/Atom feeds and ingest each new item's article.

Why: newsrooms publish feeds; reading them keeps the index current without
anyone exporting files.  ``qa feeds add URL`` subscribes, ``qa feeds poll``
(or the server's poller, ``QA_FEEDS_POLL_INTERVAL_S``) reads every feed:

1. the feed is fetched with a conditional request (``If-None-Match`` /
   ``If-Modified-Since`` from the last answer), so an unchanged feed costs a
   304 and nothing else;
2. it is parsed with ``feedparser`` (RSS 0.9x-2.0, Atom); a document that is
   not a feed is that feed's error, never the poll's;
3. each item whose link was not seen before has its page fetched (redirects
   followed, ``QA_FEEDS_TIMEOUT_S``, at most ``QA_FEEDS_MAX_BYTES``), its article
   extracted with the same HTML extraction as ``qa ingest`` (trafilatura), and
   is ingested with the feed's metadata: the item's title, the feed's name as
   source, the item's date, the page's URL.  Its document id is
   ``doc-<sha1(url)>``, as for ``POST /documents`` with a URL and no id;
4. an item whose text was already ingested (the same article under another
   URL or in another feed) is recorded and skipped: dedup by URL, then by
   content hash.  Seen items are never fetched again, so nothing is re-embedded.

Each item that fails (404, not HTML, too large, no article text) is reported
with its URL and reason and retried at the next poll; other items and feeds go
on.  State lives beside the index in ``feeds.sqlite``; items are recorded only
after their articles are written, so a crash mid-poll re-reads them next time.
"""

from __future__ import annotations

import calendar
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from qa.config import Settings
from qa.errors import BadDocument, BadRequest, FeedError
from qa.ingest.embed import IngestReport
from qa.ingest.feed_store import Feed, FeedReport, FeedStore, check_url, content_hash
from qa.ingest.load import article_from_dict, derived_id, extract_html, normalize_date
from qa.types import Article

log = logging.getLogger("qa.feeds")
USER_AGENT = "qa-feeds/0.1 (news question answering)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_REDIRECTS = 5


def doc_id_for(url: str) -> str:
    """The document id of an article fetched from ``url`` (the same as POST /documents gives it)."""
    return derived_id(url)


@dataclass
class Fetched:
    url: str  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        charset = None
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset":
                charset = value.strip("\"' ")
        try:
            return self.body.decode(charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


class FeedReader:
    """Polls feeds and ingests their new items through ``ingest`` (``Pipeline.add_articles``)."""

    def __init__(
        self,
        settings: Settings,
        ingest: Callable[[Sequence[Article]], IngestReport],
        *,
        store: FeedStore | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        self.store = store or FeedStore(settings.index_dir)
        self.client = client or httpx.Client(
            timeout=settings.feeds_timeout_s,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": USER_AGENT},
        )
        self._stopping = threading.Event()

    def close(self) -> None:
        self.client.close()

    def stop(self) -> None:
        """Ask a poll running in another thread to end after the item it is on (server shutdown)."""
        self._stopping.set()

    def poll(self, urls: Sequence[str] | None = None) -> list[FeedReport]:
        """Poll every feed (or those in ``urls``); one report per feed, failures included."""
        feeds = [self.store.get(check_url(u)) for u in urls] if urls else self.store.list()
        return [self.poll_feed(feed) for feed in feeds if not self._stopping.is_set()]

    def poll_feed(self, feed: Feed) -> FeedReport:
        report = FeedReport(feed.url)
        etag, last_modified = feed.etag, feed.last_modified
        try:
            headers = {
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
            }
            if feed.etag:
                headers["If-None-Match"] = feed.etag
            if feed.last_modified:
                headers["If-Modified-Since"] = feed.last_modified
            fetched = self._fetch(feed.url, headers)
            if fetched.status == 304:
                report.status = "not_modified"
            else:
                self._read(feed, fetched, report)
                # Only now: a feed whose items failed to be written is fetched in full next time.
                etag, last_modified = fetched.headers.get("etag"), fetched.headers.get("last-modified")
        except FeedError as exc:
            report.status, report.error = "error", exc.message
        except Exception as exc:  # e.g. the index refused the write: this feed's error, not the poll's
            log.exception("feed %s failed", feed.url)
            report.status, report.error = "error", f"{type(exc).__name__}: {exc}"
        self.store.record_poll(feed, report, etag, last_modified)
        return report

    def _read(self, feed: Feed, fetched: Fetched, report: FeedReport) -> None:
        import feedparser  # only when polling

        parsed = feedparser.parse(
            fetched.body,
            response_headers={
                "content-type": fetched.headers.get("content-type", ""),
                "content-location": fetched.url,
            },
        )
        if parsed.get("bozo"):
            reason = parsed.get("bozo_exception") or "malformed"
            if not any(e.get("link") for e in parsed.entries):
                raise FeedError(f"not an RSS or Atom feed ({reason})")
            # Real feeds often have small faults (a stray entity, a wrong encoding); read what parses.
            report.warning = f"malformed feed, read leniently: {reason}"
        feed.title = str(parsed.feed.get("title", "") or "")[:500]
        source = feed.source or feed.title or urlsplit(feed.url).netloc
        entries = parsed.entries[: self.settings.feeds_max_items]
        report.items = len(parsed.entries)
        links = [str(e.get("link", "") or "").strip() for e in entries]
        seen = self.store.seen([link for link in links if link])
        articles: list[Article] = []
        records: list[tuple[str, str, str]] = []
        hashes: dict[str, str] = {}
        for entry, link in zip(entries, links, strict=True):
            if self._stopping.is_set():
                break  # what was fetched so far is still ingested and recorded below
            if link in seen:
                report.seen += 1
                continue
            try:
                article, final_url = self._article(entry, link, source)
            except FeedError as exc:
                report.problems.append((link or "(item without a link)", exc.message))
                continue
            digest = content_hash(article.text)
            earlier = hashes.get(digest) or self.store.doc_for_hash(digest)
            if earlier is not None:
                report.duplicates += 1
                records.append((link, earlier, digest))
                continue
            hashes[digest] = article.id
            articles.append(article)
            records.extend((u, article.id, digest) for u in dict.fromkeys((link, final_url)))
        if articles:
            result = self.ingest(articles)
            report.chunks_embedded = result.chunks_embedded
            report.added = [a.id for a in articles]
        self.store.record_items(feed.url, records)

    def _article(self, entry: Any, link: str, source: str) -> tuple[Article, str]:
        if not link:
            raise FeedError("the item has no link")
        try:
            check_url(link)
        except BadRequest as exc:
            raise FeedError(exc.message) from exc
        page = self._fetch(link, {"Accept": "text/html, application/xhtml+xml, text/plain;q=0.8"})
        kind = page.content_type
        meta: dict[str, str] = {}
        if kind in HTML_TYPES or (not kind and page.body.lstrip()[:1] == b"<"):
            try:
                text, meta = extract_html(page.text())
            except BadDocument as exc:
                raise FeedError(exc.message) from exc
        elif kind == "text/plain":
            text = page.text()
        else:
            raise FeedError(f"not an HTML page (content type {kind or 'unknown'!r})")
        data = {
            "id": doc_id_for(page.url),
            "text": text,
            "title": str(entry.get("title", "") or "").strip() or meta.get("title", ""),
            "source": source,
            "published_at": _entry_date(entry) or _safe_date(meta.get("published_at")),
            "url": page.url,
        }
        try:
            return article_from_dict(data), page.url
        except BadDocument as exc:
            raise FeedError(exc.message) from exc

    def _fetch(self, url: str, headers: dict[str, str]) -> Fetched:
        """GET ``url`` with redirects, the timeout and the size limit; ``FeedError`` on any failure."""
        limit = self.settings.feeds_max_bytes
        try:
            with self.client.stream("GET", url, headers=headers) as r:
                if r.status_code == 304:
                    return Fetched(str(r.url), 304, r.headers, b"")
                if r.status_code >= 400:
                    raise FeedError(f"HTTP {r.status_code} from {r.url}")
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FeedError(f"larger than {limit} bytes (QA_FEEDS_MAX_BYTES): {declared} bytes")
                body = bytearray()
                for piece in r.iter_bytes():
                    body.extend(piece)
                    if len(body) > limit:
                        raise FeedError(f"larger than {limit} bytes (QA_FEEDS_MAX_BYTES)")
                return Fetched(str(r.url), r.status_code, r.headers, bytes(body))
        except httpx.TimeoutException as exc:
            raise FeedError(
                f"timed out after {self.settings.feeds_timeout_s} s (QA_FEEDS_TIMEOUT_S)"
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise FeedError(f"more than {MAX_REDIRECTS} redirects") from exc
        except httpx.HTTPError as exc:
            raise FeedError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from exc


def _entry_date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC).date().isoformat()
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _safe_date(value: str | None) -> str | None:
    try:
        return normalize_date(value)
    except ValueError:
        return None
