"""Request ids, structured logs and Prometheus metrics.

* :data:`request_id` is a context variable set by :class:`RequestContext` (an
  ASGI middleware) for the duration of a request.  A logging filter copies it
  onto every record, so every line logged while serving a request (by qa,
  uvicorn or a library, in the event loop or the thread pool) carries it.
* :func:`configure_logging` sends the root logger and uvicorn's loggers through
  one formatter: one JSON object per line (``ts``, ``level``, ``logger``,
  ``message``, ``request_id`` and any ``extra`` fields) or plain text.  The
  configured API keys are redacted from every line as a last line of defence.
* :class:`Metrics` owns a private ``CollectorRegistry`` (so several apps in one
  process don't clash) with the HTTP, index, ingest and answer metrics that
  ``GET /metrics`` exposes in the Prometheus text format.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.errors import ConfigError, QAError

if TYPE_CHECKING:
    from qa.ingest.embed import IngestReport
    from qa.types import Answer

__all__ = [
    "CONTENT_TYPE_LATEST",
    "REQUEST_ID_HEADER",
    "JsonFormatter",
    "Metrics",
    "RequestContext",
    "configure_logging",
    "request_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("qa_request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
access_log = logging.getLogger("qa.access")
ingest_log = logging.getLogger("qa.documents")

# Probes hit these every few seconds; their access lines are debug so they don't drown the rest.
QUIET_PATHS = frozenset({"/health", "/metrics"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LEVELS = ("critical", "error", "warning", "info", "debug")
# Answers can take tens of seconds with a remote LLM: the default buckets stop at 10 s.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
INGEST_OUTCOMES = ("added", "updated", "unchanged", "skipped")


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it is a safe id to echo and log (<= 64 of [A-Za-z0-9._-]), else None."""
    return value if value and _SANE_ID.fullmatch(value) else None


# -- logging -----------------------------------------------------------------------------

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName", "color_message"}
)


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or None) on every record that reaches the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class _Redacting(logging.Formatter):
    def __init__(self, fmt: str | None = None, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        # Raw and JSON-escaped forms: a key with a quote or backslash is escaped inside a JSON line.
        forms = {form for s in secrets if s for form in (s, json.dumps(s)[1:-1])}
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, "[redacted]")
        return line


class JsonFormatter(_Redacting):
    """One JSON object per line: ts, level, logger, message, request_id, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(entry, ensure_ascii=False, default=str))


class PlainFormatter(_Redacting):
    """Human-readable lines that still carry the request id."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s", secrets)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return self.redact(super().format(record))


def configure_logging(level: str = "info", json_lines: bool = True, secrets: Iterable[str] = ()) -> str:
    """Route the root logger and uvicorn's loggers through one handler on stderr.

    ``secrets`` (the API keys) are replaced by ``[redacted]`` in every line.
    Returns the normalised level name for ``uvicorn.run(log_level=...)``; pass
    ``log_config=None`` there too, or uvicorn installs its own handlers.
    """
    name = level.strip().lower()
    if name not in LEVELS:
        raise ConfigError(f"invalid log level {level!r} (QA_LOG_LEVEL): use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    # Records propagated from loggers with a level of their own (bm25s sets DEBUG) skip the root
    # logger's level check; the handler's level is the one that holds for every line.
    handler.setLevel(name.upper())
    handler.setFormatter(JsonFormatter(secrets=secrets) if json_lines else PlainFormatter(secrets=secrets))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name.upper())
    for logger_name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(logger_name)
        logger.handlers.clear()
        logger.propagate = True
    # Library warnings (warnings.warn) become log records too, so they are JSON like the rest.
    logging.captureWarnings(True)
    return name


# -- metrics -----------------------------------------------------------------------------


UNPARSED = "Articles a QA_ANNOTATE=deferred ingest left to parse (qa annotate, or the server while idle)."


class _IndexCollector(Collector):
    """Index size read at scrape time, so it is right after writes by any process."""

    def __init__(self, stats: Callable[[], Mapping[str, Any] | None]) -> None:
        self._stats = stats

    def describe(self) -> Iterator[Metric]:
        # Lets the registry learn the names without opening the index at registration.
        yield GaugeMetricFamily("qa_index_documents", "Documents in the index.")
        yield GaugeMetricFamily("qa_index_chunks", "Chunks in the index.")
        yield GaugeMetricFamily("qa_index_unparsed_articles", UNPARSED)

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._stats() or {}
        except QAError:
            stats = {}  # no index yet: report an empty one rather than fail the scrape
        yield GaugeMetricFamily(
            "qa_index_documents", "Documents in the index.", value=stats.get("documents", 0)
        )
        yield GaugeMetricFamily("qa_index_chunks", "Chunks in the index.", value=stats.get("chunks", 0))
        yield GaugeMetricFamily(
            "qa_index_unparsed_articles", UNPARSED, value=stats.get("unparsed_articles", 0)
        )


class Metrics:
    """The app's Prometheus metrics in a registry of its own.

    ``index_stats`` returns ``Pipeline.stats()`` (or None when there is no
    index); it is called on every scrape.
    """

    def __init__(self, index_stats: Callable[[], Mapping[str, Any] | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qa_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "qa_http_request_duration_seconds",
            "Time from request to the end of the response body, by method and route template.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.ingested = Counter(
            "qa_ingest_documents",
            "Documents sent to the documents API, by outcome (added, updated, unchanged, skipped).",
            ["outcome"],
            registry=self.registry,
        )
        self.chunks_embedded = Counter(
            "qa_ingest_chunks_embedded", "Chunks embedded by the documents API.", registry=self.registry
        )
        self.answers = Counter(
            "qa_answers",
            "Answers given, by backend and whether the articles answered the question.",
            ["backend", "answered"],
            registry=self.registry,
        )
        for outcome in INGEST_OUTCOMES:
            self.ingested.labels(outcome=outcome)  # present at 0 before the first write
        self.registry.register(_IndexCollector(index_stats))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "other"
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.duration.labels(method=method, route=route).observe(seconds)

    def record_ingest(self, report: IngestReport | None, skipped: int = 0) -> None:
        """Count one write: ``report`` is an ``IngestReport`` (None when nothing was ingested)."""
        counts = {"skipped": skipped}
        if report is not None:
            counts.update({o: len(getattr(report, o)) for o in ("added", "updated", "unchanged")})
            self.chunks_embedded.inc(report.chunks_embedded)
        for outcome, n in counts.items():
            if n:
                self.ingested.labels(outcome=outcome).inc(n)
        # The audit trail of writes: what changed, tied to the request id (never the key).
        ingest_log.info(
            "documents API write: %s; %d chunks embedded",
            ", ".join(f"{n} {o}" for o, n in counts.items()),
            report.chunks_embedded if report is not None else 0,
            extra={"ingest": counts},
        )

    def record_answer(self, answer: Answer) -> None:
        self.answers.labels(backend=answer.backend, answered=str(bool(answer.answered)).lower()).inc()

    def count_final(self, events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """Pass a streamed answer's events through, counting the final answer."""
        for kind, payload in events:
            if kind == "final":
                self.record_answer(payload)
            yield kind, payload

    def render(self) -> bytes:
        """The registry in the Prometheus text format (reads the index stats)."""
        return generate_latest(self.registry)


# -- the middleware ----------------------------------------------------------------------


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/documents/{doc_id}``), or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Answered before routing (413, CORS preflight): match the app's routes ourselves.
    router = getattr(scope.get("app"), "router", None)
    partial = None
    for candidate in getattr(router, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(candidate.path)
        if match is Match.PARTIAL and partial is None:
            partial = str(candidate.path)
    return partial or "unmatched"


class RequestContext:
    """Pure ASGI middleware: request id, access log line and HTTP metrics for every request.

    Takes a sane incoming ``X-Request-ID`` or makes one, sets :data:`request_id`
    for everything the request runs, echoes it in the response, and after the
    response logs one ``qa.access`` line (method, path without the query, route,
    status, duration_ms, client) and updates the request metrics.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = sane_request_id(incoming) or uuid.uuid4().hex
        # Not reset afterwards: uvicorn runs each request in a task of its own, and its own
        # "Exception in ASGI application" line, logged after we return, should carry the id too.
        request_id.set(rid)
        start = time.perf_counter()
        status = 500  # if the app raises before starting a response, the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = route_template(scope)
            if self.metrics is not None:
                self.metrics.observe_request(scope["method"], route, status, seconds)
            client = scope.get("client")
            path = scope.get("path", "")
            duration_ms = round(seconds * 1000, 2)
            access_log.log(
                logging.DEBUG if path in QUIET_PATHS and status < 400 else logging.INFO,
                "%s %s %s %.2fms",
                scope["method"],
                path,
                status,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": client[0] if client else None,
                },
            )
