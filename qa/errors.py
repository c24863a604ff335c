"""One exception tree; each class carries the HTTP status and headers the API answers with.

::

    QAError (500)
    ├── BadRequest (400)
    │   ├── BadQuestion (422)        empty, blank or over-long question
    │   ├── BadDocument (422)        an article that can't be ingested
    │   ├── InvalidRequest (422)     a body or parameter that fails the request schema
    │   └── EvalFileError (400)      an eval question or baseline file that can't be read (CLI)
    ├── Unauthorized (401)           missing or wrong API key; carries WWW-Authenticate
    ├── Forbidden (403)              writes refused: no write key configured, or a read key
    │   └── BackendNotEnabled (403)  a backend this server doesn't offer (names not disclosed)
    ├── NotFound (404)               unknown document id
    │   └── UnknownModel (404)       /v1 `model` names no enabled backend
    ├── PayloadTooLarge (413)
    ├── UnknownBackend (422)         lists the valid backend names
    ├── RateLimited (429)            carries Retry-After
    ├── ClientGone (499)             the client left before its answer; nobody reads this
    ├── RouteError (4xx)             the router's own refusals: unknown path (404), wrong method (405)
    ├── ConfigError (500)            a setting, prompt template or model qa can't use
    │   └── ModelMismatch (500)      index built with another embedding model
    ├── StoreError (500)             the index can't be read or written
    │   ├── IndexNotBuilt (503)      names the command that builds it
    │   ├── IndexLocked (503)        another writer held the index too long; carries Retry-After
    │   └── IndexDamaged (500)       a store or vector file that can't be read back
    ├── BackendError (502)           the LLM provider failed; carries its reason
    ├── FeedError (502)              a feed or its item could not be fetched or read
    └── LocalLLMUnavailable (503)    the offline LLM's package, model file or server is missing (tools)
        └── LocalLLMStartupError (503)

The API has one handler on ``QAError``; anything else is one of our own bugs: it is
logged with its traceback and answered with a generic 500 (never a traceback).
A client sees :func:`error_body`: ``public`` (never an index path, a provider's
reply or the server's configuration) and ``code``; ``message``, the detail an
operator needs, goes to the log and the CLI.  Server-side errors (5xx) always
answer with their class's generic ``public`` text.  The exception handler, the
body-size limit, the MCP guard and the SSE ``error`` event all build their JSON
with :func:`error_body` and take the status and headers from the exception.
"""

from __future__ import annotations

# Sent with every 401 (RFC 9110 requires a challenge); Bearer is the standard scheme we accept.
WWW_AUTHENTICATE = 'Bearer realm="qa"'


class QAError(Exception):
    """Base of every error qa raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    # What a client is told when ``status`` is a 5xx: the class's generic words, never the detail.
    generic: str = "internal error; the server log has the details"

    def __init__(self, message: str, *, public: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self._public = public

    @property
    def public(self) -> str:
        """The detail an HTTP client may see: generic for 5xx, else ``public`` or the message."""
        if self.status >= 500:
            return self.generic
        return self._public or self.message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides its JSON (e.g. ``Retry-After``)."""
        return {}


def error_body(exc: BaseException) -> dict[str, str]:
    """The JSON body of every error answer, ``{"detail", "error"}``.

    ``exc`` that is not a :class:`QAError` is one of our own bugs: the client
    gets the generic 500 words and code, never the exception's text.
    """
    if not isinstance(exc, QAError):
        return {"detail": QAError.generic, "error": QAError.code}
    return {"detail": exc.public, "error": exc.code}


def error_status(exc: BaseException) -> int:
    """The HTTP status an exception answers with: its class's, or 500 for anything not a QAError."""
    return exc.status if isinstance(exc, QAError) else 500


class BadRequest(QAError):
    status = 400
    code = "bad_request"


class BadQuestion(BadRequest):
    status = 422
    code = "bad_question"


class BadDocument(BadRequest):
    status = 422
    code = "bad_document"


class InvalidRequest(BadRequest):
    """A request that fails its schema (FastAPI's validation); the message names field and rule."""

    status = 422
    code = "invalid_request"


class EvalFileError(BadRequest):
    """An eval question file or baseline file that can't be read; the message names file and line."""

    code = "bad_eval_file"


class Unauthorized(QAError):
    status = 401
    code = "unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": WWW_AUTHENTICATE}


class Forbidden(QAError):
    status = 403
    code = "forbidden"


class BackendNotEnabled(Forbidden):
    # Well-formed but refused by this server's configuration, like a key's scope; 422 would say the
    # request was malformed, and the schema can't list the names without disclosing them.
    code = "backend_not_enabled"


class NotFound(QAError):
    status = 404
    code = "not_found"


class UnknownModel(NotFound):
    code = "model_not_found"


class PayloadTooLarge(QAError):
    status = 413
    code = "payload_too_large"


class UnknownBackend(QAError):
    status = 422
    code = "unknown_backend"


class _RetryAfter(QAError):
    """A refusal the client may retry after ``retry_after`` seconds, said in ``Retry-After``."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_RetryAfter):
    status = 429
    code = "rate_limited"


class ClientGone(QAError):
    # 499 (nginx's "client closed request"): logged and counted, never read by anyone.
    status = 499
    code = "client_gone"


class RouteError(QAError):
    """The router's own refusal (no such path, a method the path doesn't serve), with its status."""

    code = "http_error"

    def __init__(self, message: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self._headers = dict(headers or {})

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._headers)


class ConfigError(QAError):
    """A setting, prompt template or model that can't be used: the operator must fix the configuration."""

    code = "config_error"
    generic = "the server is misconfigured; the server log has the details"


class ModelMismatch(ConfigError):
    code = "model_mismatch"
    generic = "the index does not match the configured embedding model (the server log has the details)"


class StoreError(QAError):
    """The index (SQLite store and vector files) can't be read or written."""

    code = "store_error"
    generic = "the index could not be read or written; the server log has the details"


class IndexNotBuilt(StoreError):
    status = 503
    code = "index_not_built"
    generic = "the index holds no articles yet: add some with `qa ingest PATH` or POST /documents"


class IndexLocked(StoreError, _RetryAfter):
    """Another writer held the index longer than a request waits; retrying later succeeds."""

    status = 503
    code = "index_locked"
    generic = "the index is busy with another write; retry shortly"


class IndexDamaged(StoreError):
    """A store or vector file that can't be read back; `qa check` says what is wrong."""

    code = "index_damaged"
    generic = "the index is damaged; the server log has the details"


class BackendError(QAError):
    status = 502
    code = "backend_error"
    generic = "the answer backend (LLM) failed; try again later (the server log has the details)"


class FeedError(QAError):
    """A feed, or one of its items, that could not be fetched or read; reported per feed, never fatal."""

    status = 502
    code = "feed_error"


class LocalLLMUnavailable(QAError, RuntimeError):
    """The local LLM cannot run here: a package or the model file is missing, or the server failed.

    Also a ``RuntimeError``, as it was before it joined the tree.
    """

    status = 503
    code = "local_llm_unavailable"


class LocalLLMStartupError(LocalLLMUnavailable):
    """The packages are present but the server did not start or did not answer in time."""

    code = "local_llm_startup_failed"
