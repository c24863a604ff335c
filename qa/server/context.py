"""What every route module of one app shares: settings, the pipeline, metrics, keys, limits.

:func:`qa.server.app.create_app` builds one :class:`ServerContext` and hands it to
each route module (:mod:`qa.server.routes_site`, :mod:`qa.server.routes_answer`,
:mod:`qa.server.routes_documents`) and to the integrations, so none of them reads
module globals or environment variables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import params

from qa.config import Settings
from qa.pipeline import Pipeline
from qa.server.answering import Answering
from qa.server.observability import Metrics
from qa.server.security import Access, RateLimiter


@dataclass(frozen=True)
class ServerContext:
    """One app's shared parts.

    ``pipe`` returns the pipeline the app's lifespan loaded (it exists only while
    the app runs).  ``reads``, ``writes`` and ``questions`` are the dependency lists
    of the read routes (a key when QA_REQUIRE_KEY_FOR_READS is on), the write
    routes (a write key) and the question routes (reads plus the rate limit).
    """

    settings: Settings
    pipe: Callable[[], Pipeline]
    metrics: Metrics
    access: Access
    limiter: RateLimiter
    answers: Answering
    reads: list[params.Depends]
    writes: list[params.Depends]
    questions: list[params.Depends]
