"""One exception tree; each class carries the HTTP status the API answers with.

::

    QAError (500)
    ├── BadRequest (400)
    │   ├── BadQuestion (422)        empty, blank or over-long question
    │   └── BadDocument (422)        an article that can't be ingested
    ├── Unauthorized (401)           missing or wrong API key
    ├── Forbidden (403)              writes refused: no key configured
    ├── NotFound (404)               unknown document id
    │   └── UnknownModel (404)       /v1 `model` names no enabled backend
    ├── PayloadTooLarge (413)
    ├── RateLimited (429)            carries retry_after seconds
    ├── BackendError (502)           the LLM provider failed; carries its reason
    ├── IndexNotBuilt (503)          names the command that builds it
    ├── ModelMismatch (500)          index built with another embedding model
    ├── UnknownBackend (422)         lists the valid backend names
    └── FeedError (502)              a feed or its item could not be fetched or read

The API has one handler on ``QAError``; anything else is logged and answered
with a generic 500 (never a traceback).
"""

from __future__ import annotations


class QAError(Exception):
    """Base of every error qa raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class BackendError(QAError):
    status = 502
    code = "backend_error"


class IndexNotBuilt(QAError):
    status = 503
    code = "index_not_built"


class ModelMismatch(QAError):
    status = 500
    code = "model_mismatch"


class UnknownBackend(QAError):
    status = 422
    code = "unknown_backend"


class UnknownModel(NotFound):
    code = "model_not_found"


class FeedError(QAError):
    """A feed, or one of its items, that could not be fetched or read; reported per feed, never fatal."""

    status = 502
    code = "feed_error"
