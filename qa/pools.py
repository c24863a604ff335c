"""Small shared thread pools for work that overlaps within one request.

A hybrid search encodes the question while BM25 scores (the encoder releases the
GIL, so on two cores the shorter side is hidden).  ``/ask`` no longer retrieves
beside the question's spaCy parse: both hold the GIL most of the time, and side
by side each ran 1.5-2.5x slower than alone.  Each kind of task has its own pool, and a
task only ever waits on a task of another pool (a retrieval on its question's
encoding), never of its own, so a full pool never deadlocks.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

WORKERS = 8  # tasks of one kind in flight at once (more wait their turn)
T = TypeVar("T")
_POOLS: dict[str, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def in_pool(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Run ``fn`` in the shared pool ``name``, with this thread's context vars (such as the request id)."""
    pool = _POOLS.get(name)
    if pool is None:
        with _LOCK:
            pool = _POOLS.get(name)
            if pool is None:
                pool = _POOLS[name] = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"qa-{name}")
    return pool.submit(contextvars.copy_context().run, fn, *args, **kwargs)
