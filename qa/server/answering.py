"""The one path from a question route to the pipeline: ``/ask``, ``/chat``, their streams and ``/v1``.

Where it sits: a route turns its body into an :class:`AnswerCall` (the question,
the earlier turns of a chat, and the options), and :class:`Answering` runs it:

* with an LLM backend it first takes one of ``QA_LLM_CONCURRENCY`` slots, waiting
  in the event loop, so however many wait the thread pool keeps free threads for
  ``/health`` and the other routes;
* the pipeline's blocking work runs in a worker thread;
* a client that leaves while its answer waits or runs gets :class:`~qa.errors.ClientGone`
  (499) and its answer is dropped before any LLM call where it can be;
* the answer is counted in the metrics.

:meth:`Answering.answer` returns the verified :class:`~qa.types.Answer`;
:meth:`Answering.stream` returns the pipeline's events and the function that gives
the slot back, for the route to wrap in its own stream format.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from qa.answer.backends import Turn
from qa.answer.retrieve import Filters
from qa.config import Settings
from qa.errors import ClientGone
from qa.pipeline import Pipeline
from qa.server.observability import Metrics
from qa.server.sse import close_quietly
from qa.types import Answer

log = logging.getLogger("qa.api")
Events = Iterator[tuple[str, Any]]


@dataclass(frozen=True)
class AnswerCall:
    """One question for the pipeline, however it arrived."""

    question: str
    history: Sequence[Turn] | None = None
    top_k: int | None = None
    backend: str | None = None
    filters: Filters = field(default_factory=Filters)
    mode: str | None = None  # "auto" (None), "answer" or "timeline"


class Answering:
    """Runs each :class:`AnswerCall` for the routes of one app (see the module docstring)."""

    def __init__(self, settings: Settings, pipe: Callable[[], Pipeline], metrics: Metrics) -> None:
        self.default_backend = settings.backend
        self.pipe = pipe
        self.metrics = metrics
        # LLM answers wait for a slot here, in the event loop, not in a worker thread.
        self.llm_slots = asyncio.Semaphore(settings.llm_concurrency)

    async def answer(self, request: Request, call: AnswerCall) -> Answer:
        """The verified answer; 499 if the client leaves first."""
        answer, _ = await self._run(request, call, stream=False)
        self.metrics.record_answer(answer)
        return answer

    async def stream(self, request: Request, call: AnswerCall) -> tuple[Events, Callable[[], None] | None]:
        """The answer's events and the function that frees its LLM slot (None: it holds none).

        Validation, retrieval and the first backend call run before this returns, so
        their errors are ordinary exceptions (plain 4xx/5xx answers, not stream events).
        The caller must call the release function when the stream ends, however it ends.
        """
        events, release = await self._run(request, call, stream=True)
        return self.metrics.count_final(events), release

    async def _run(
        self, request: Request, call: AnswerCall, *, stream: bool
    ) -> tuple[Any, Callable[[], None] | None]:
        """Run ``Pipeline.ask`` (or ``ask_stream``) in a worker thread, and stop waiting when the client leaves.

        A thread can't be stopped, so work already running is abandoned: it keeps its
        slot until it ends (bounded by QA_LLM_TIMEOUT_S), which keeps the number of
        threads in LLM calls at QA_LLM_CONCURRENCY at most.  A streamed answer keeps
        its slot until its stream ends: the release function is returned with it.
        """
        slots = self.llm_slots if (call.backend or self.default_backend) != "extractive" else None
        if slots is not None:
            await unless_disconnected(request, slots.acquire())
        pipeline = self.pipe()
        work = functools.partial(
            pipeline.ask_stream if stream else pipeline.ask,
            call.question,
            top_k=call.top_k,
            backend=call.backend,
            filters=call.filters,
            history=call.history,
            mode=call.mode,
        )
        running = asyncio.ensure_future(run_in_threadpool(work))
        if not stream:
            if slots is not None:
                running.add_done_callback(lambda _: slots.release())
            return await unless_disconnected(request, running), None
        try:
            events = await unless_disconnected(request, running)
        except BaseException:
            # Failed, or abandoned by its client: the slot comes back when the work ends (now, or
            # when the running first call does), and a stream nobody will read is closed.
            def done(work: asyncio.Future[Any]) -> None:
                if slots is not None:
                    slots.release()
                if not work.cancelled() and work.exception() is None:
                    close_quietly(work.result())

            running.add_done_callback(done)
            raise
        return events, slots.release if slots is not None else None


async def _client_left(request: Request) -> None:
    """Returns when the client has disconnected (the request body has been read by then)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, awaitable: Awaitable[Any]) -> Any:
    """``await awaitable``, unless the client disconnects first: then ``ClientGone`` (499).

    A waiting ``awaitable`` (a semaphore) is cancelled; a running one (work in a thread)
    is left to finish on its own, since a thread can't be interrupted.
    """
    work = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_client_left(request))
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if work.done():
        return work.result()
    work.cancel()
    # Whatever the abandoned work ends with, nobody will read it: retrieve it so it isn't reported.
    work.add_done_callback(lambda f: f.cancelled() or f.exception())
    log.info("%s %s: client disconnected; answer abandoned", request.method, request.url.path)
    raise ClientGone("the client disconnected before the answer was ready")
