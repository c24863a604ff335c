"""One exception tree; each class carries the HTTP status the API answers with.

::

    QAError (500)
    ├── BadRequest (400)
    │   ├── BadQuestion (422)        empty, blank or over-long question
    │   └── BadDocument (422)        an article that can't be ingested
    ├── Unauthorized (401)           missing or wrong API key
    ├── Forbidden (403)              writes refused: no write key configured, or a read key
    │   └── BackendNotEnabled (403)  a backend this server doesn't offer (names not disclosed)
    ├── NotFound (404)               unknown document id
    │   └── UnknownModel (404)       /v1 `model` names no enabled backend
    ├── PayloadTooLarge (413)
    ├── RateLimited (429)            carries retry_after seconds
    ├── ClientGone (499)             the client left before its answer; nobody reads this
    ├── BackendError (502)           the LLM provider failed; carries its reason
    ├── IndexNotBuilt (503)          names the command that builds it
    ├── ModelMismatch (500)          index built with another embedding model
    ├── UnknownBackend (422)         lists the valid backend names
    └── FeedError (502)              a feed or its item could not be fetched or read

The API has one handler on ``QAError``; anything else is logged and answered
with a generic 500 (never a traceback).  A client sees ``public`` (never an
index path, a provider's reply or the server's configuration); ``message``, the
detail an operator needs, goes to the log and the CLI.  Server-side errors (5xx)
always answer with their class's generic ``public`` text.
"""

from __future__ import annotations


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


class BadRequest(QAError):
    status = 400
    code = "bad_request"


class BadQuestion(BadRequest):
    status = 422
    code = "bad_question"


class BadDocument(BadRequest):
    status = 422
    code = "bad_document"


class Unauthorized(QAError):
    status = 401
    code = "unauthorized"


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


class PayloadTooLarge(QAError):
    status = 413
    code = "payload_too_large"


class RateLimited(QAError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientGone(QAError):
    # 499 (nginx's "client closed request"): logged and counted, never read by anyone.
    status = 499
    code = "client_gone"


class BackendError(QAError):
    status = 502
    code = "backend_error"
    generic = "the answer backend (LLM) failed; try again later (the server log has the details)"


class IndexNotBuilt(QAError):
    status = 503
    code = "index_not_built"
    generic = "the index holds no articles yet: add some with `qa ingest PATH` or POST /documents"


class ModelMismatch(QAError):
    status = 500
    code = "model_mismatch"
    generic = "the index does not match the configured embedding model (the server log has the details)"


class UnknownBackend(QAError):
    status = 422
    code = "unknown_backend"


class UnknownModel(NotFound):
    code = "model_not_found"


class FeedError(QAError):
    """A feed, or one of its items, that could not be fetched or read; reported per feed, never fatal."""

    status = 502
    code = "feed_error"
