"""Read files and JSONL into Articles, reporting bad input instead of failing on it.

The first stage on the way in (``load -> chunk -> embed -> store``): files on
disk (:func:`load_articles`), uploaded bytes (:func:`parse_upload`, for
``POST /documents/upload``) and API bodies (:func:`article_from_dict`) all become
:class:`~qa.types.Article` objects here, with a :class:`Problem` for each input skipped.

Supported: ``.txt``, ``.md``, ``.html``/``.htm`` (article text extracted with
trafilatura, navigation and boilerplate dropped) and ``.jsonl`` (one article a
line: id, title, source, published_at, url, text).  A ``NAME.meta.json`` beside
a text file supplies its metadata (id, title, source, published_at, url).

Document ids are stable: the ``id`` field or meta id where given, otherwise the
file name without its extension (so re-ingesting an edited file replaces it);
an article sent or fetched without one gets :func:`derived_id` of its URL (or text).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from qa.errors import BadDocument
from qa.text import has_lone_surrogate
from qa.types import Article

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES
MAX_ID_LENGTH = 200
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")


@dataclass(frozen=True)
class Problem:
    """Input that was skipped: where it was and why."""

    where: str  # "path" or "path:line"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def slug_id(name: str) -> str:
    """A document id from a file name: letters, digits and ``._-`` only."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:MAX_ID_LENGTH] or "document"


def derived_id(key: str) -> str:
    """``doc-<sha1>``: the id of an article that came without one, from its URL (or else its text).

    The same URL always gives the same id, so a re-sent or re-fetched article replaces itself.
    """
    return "doc-" + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def normalize_date(value: Any) -> str | None:
    """``YYYY-MM-DD`` from a date or ISO datetime string; ``None`` for empty; else ValueError."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"published_at must be a string like 2024-05-31, not {type(value).__name__}")
    text = value.strip()
    try:
        return (
            date.fromisoformat(text[:10]).isoformat()
            if len(text) >= 10
            else date.fromisoformat(text).isoformat()
        )
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError as exc:
        raise ValueError(f"published_at {value!r} is not an ISO date such as 2024-05-31") from exc


def article_from_dict(data: Any, default_id: str | None = None) -> Article:
    """Validate one article given as a mapping (a JSONL line or an API body).

    Raises ``BadDocument`` with a message that says which field is wrong.
    """
    if not isinstance(data, dict):
        raise BadDocument(f"expected a JSON object, got {type(data).__name__}")
    text = data.get("text")
    if not isinstance(text, str):
        raise BadDocument("field 'text' is required and must be a string")
    text = text.replace("\r\n", "\n").replace("\x00", "")
    if not text.strip():
        raise BadDocument("field 'text' is empty")
    if has_lone_surrogate(text):
        raise BadDocument("field 'text' contains an unpaired UTF-16 surrogate (invalid Unicode)")
    doc_id = data.get("id", default_id)
    if doc_id is None or doc_id == "":
        raise BadDocument("field 'id' is required")
    if not isinstance(doc_id, str | int) or isinstance(doc_id, bool):
        raise BadDocument("field 'id' must be a string")
    doc_id = str(doc_id).strip()
    if len(doc_id) > MAX_ID_LENGTH or not _ID_RE.match(doc_id):
        raise BadDocument(
            f"id {doc_id[:60]!r} is invalid: use 1-{MAX_ID_LENGTH} letters, digits and ._:@- (starting with a letter or digit)"
        )
    fields: dict[str, str] = {}
    for name in ("title", "source", "url"):
        value = data.get(name) or ""
        if not isinstance(value, str):
            raise BadDocument(f"field {name!r} must be a string")
        fields[name] = value.strip()
    try:
        published_at = normalize_date(data.get("published_at"))
    except ValueError as exc:
        raise BadDocument(str(exc)) from exc
    return Article(id=doc_id, text=text, published_at=published_at, **fields)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise BadDocument("file is empty")
    if b"\x00" in raw[:8192]:
        raise BadDocument("file looks binary (contains NUL bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"not valid UTF-8 (byte {exc.start}): convert the file to UTF-8") from exc


def _sidecar(path: Path) -> dict[str, Any]:
    meta_path = path.with_name(path.stem + ".meta.json")
    if not meta_path.exists():
        return {}
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadDocument(f"metadata file {meta_path.name} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise BadDocument(f"metadata file {meta_path.name} must hold a JSON object")
    return meta


def _title_from_text(text: str, suffix: str) -> str:
    first = text.strip().split("\n", 1)[0].strip()
    if suffix in {".md", ".markdown"} and first.startswith("#"):
        return first.lstrip("#").strip()
    return ""


def parse_text(path_name: str, text: str, suffix: str, meta: dict[str, Any] | None = None) -> Article:
    """An Article from the text of a .txt/.md/.html file (HTML is extracted first)."""
    meta = dict(meta or {})
    stem = Path(path_name).stem
    if suffix in HTML_SUFFIXES:
        text, html_meta = extract_html(text)
        for key, value in html_meta.items():
            meta.setdefault(key, value)
    meta.setdefault("title", _title_from_text(text, suffix) or stem.replace("_", " ").replace("-", " "))
    meta["text"] = text
    meta.setdefault("id", slug_id(stem))
    return article_from_dict(meta)


def extract_html(html: str) -> tuple[str, dict[str, str]]:
    """Main text and metadata (title, source, published_at, url) of an HTML page."""
    import trafilatura  # heavy import: only when HTML is ingested

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=False)
    text = (doc.text if doc is not None else None) or ""
    if not text.strip():
        raise BadDocument("no article text found in the HTML")
    meta: dict[str, str] = {}
    if doc is not None:
        for key, attr in (
            ("title", "title"),
            ("source", "sitename"),
            ("published_at", "date"),
            ("url", "url"),
        ):
            value = getattr(doc, attr, None)
            if value:
                meta[key] = str(value)
    return text, meta


def iter_jsonl(path_name: str, lines: Iterable[bytes | str]) -> Iterator[Article | Problem]:
    """Articles from JSONL lines; each bad line becomes a Problem naming its line number."""
    seen_content = False
    for number, line in enumerate(lines, 1):
        where = f"{path_name}:{number}"
        if line.strip():
            seen_content = True
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield Problem(where, "line is not valid UTF-8")
                continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(where, f"malformed JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield Problem(where, "JSON nested too deeply")
            continue
        try:
            yield article_from_dict(data)
        except BadDocument as exc:
            yield Problem(where, exc.message)
    if not seen_content:
        # Otherwise an empty export ingests nothing and reports nothing.
        yield Problem(path_name, "file is empty")


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path | Problem]:
    """Expand directories (recursively, sorted) into supported files; missing paths become Problems."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.name.endswith(".meta.json") or child.name.startswith("."):
                    continue
                if child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path
            else:
                yield Problem(
                    str(path),
                    f"unsupported file type {path.suffix or '(none)'!r}; use .txt, .md, .html or .jsonl",
                )
        else:
            yield Problem(str(path), "no such file or directory")


def load_articles(paths: Iterable[str | Path]) -> Iterator[Article | Problem]:
    """Every article under ``paths``, in order, with a Problem for each skipped file or line."""
    for item in iter_files(paths):
        if isinstance(item, Problem):
            yield item
            continue
        suffix = item.suffix.lower()
        try:
            if suffix in JSONL_SUFFIXES:
                with item.open("rb") as handle:
                    yield from iter_jsonl(str(item), handle)
            else:
                yield parse_text(item.name, _read_text(item), suffix, _sidecar(item))
        except BadDocument as exc:
            yield Problem(str(item), exc.message)
        except OSError as exc:
            yield Problem(str(item), f"cannot read: {exc.strerror or exc}")


def parse_upload(filename: str, data: bytes) -> tuple[list[Article], list[Problem]]:
    """Articles from an uploaded file's bytes; bad JSONL lines become Problems.

    A file name is optional (a multipart part need not carry one, and the schema
    doesn't require it): without a suffix, a body whose first line is a JSON
    object is read as JSONL, anything else as text.  A file that can't be read at
    all (unsupported type, empty, binary, not UTF-8) raises ``BadDocument``.
    """
    name = Path(filename.replace("\\", "/")).name if filename else ""
    suffix = Path(name).suffix.lower()
    if not suffix:
        suffix = ".jsonl" if data.lstrip()[:1] == b"{" else ".txt"
        name = f"{name or 'upload'}{suffix}"
    if suffix not in SUPPORTED_SUFFIXES:
        raise BadDocument(f"unsupported file type {suffix!r}: upload .txt, .md, .html or .jsonl")
    if not data.strip():
        raise BadDocument(f"{name}: file is empty")
    if b"\x00" in data[:8192]:
        raise BadDocument(f"{name}: file looks binary (contains NUL bytes)")
    if suffix in JSONL_SUFFIXES:
        articles: list[Article] = []
        problems: list[Problem] = []
        for item in iter_jsonl(name, data.splitlines()):
            if isinstance(item, Problem):
                problems.append(item)
            else:
                articles.append(item)
        return articles, problems
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"{name}: not valid UTF-8 (byte {exc.start}); convert the file to UTF-8") from exc
    return [parse_text(name, text, suffix)], []


def article_batches(
    paths: Iterable[str | Path],
    size: int,
    problems: list[Problem],
    on_problem: Callable[[Problem], None] | None = None,
) -> Iterator[list[Article]]:
    """The articles under ``paths`` in lists of at most ``size``, in order; each skipped file or line
    is appended to ``problems`` (and passed to ``on_problem``) as it is met."""
    batch: list[Article] = []
    for item in load_articles(paths):
        if isinstance(item, Problem):
            problems.append(item)
            if on_problem:
                on_problem(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
