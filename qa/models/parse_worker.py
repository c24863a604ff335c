"""spaCy in a child process for ingest: parses run beside the parent's embedding.

spaCy is single-threaded and holds the GIL for much of its work, so a thread would
not overlap it with the embedding; a child process (``python -m
qa.models.parse_worker``, started by the module path, so it never re-imports the
caller's ``__main__``) does.  See :class:`qa.ingest.annotate.BesideEmbedding`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from qa.models.nlp import MAX_PARSE_CHARS, SPACY_PACKAGE, _from_doc


class ParseWorker:
    """spaCy in a child process (``python -m qa.models.parse_worker``): parses run beside the parent's
    embedding, sharing no GIL with it.  One JSON line of texts in, one of annotations out;
    a thread waits for each answer, so the parent's caller gets a future.
    """

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "qa.models.parse_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._waiter = ThreadPoolExecutor(1, thread_name_prefix="qa-parse")

    def parse(self, texts: Sequence[str]) -> Future[list[str]]:
        """The texts' annotations as :meth:`Sent.to_json` strings, in order."""
        return self._waiter.submit(self._roundtrip, [t[:MAX_PARSE_CHARS] for t in texts])

    def _roundtrip(self, texts: list[str]) -> list[str]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(texts).encode("ascii") + b"\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the parse worker exited (status {self._proc.poll()})")
        parsed = json.loads(line)
        if not isinstance(parsed, list) or len(parsed) != len(texts):
            raise RuntimeError("the parse worker answered out of step")
        return parsed

    def close(self) -> None:
        self._waiter.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _serve_parses() -> None:
    """The worker's loop: a JSON list of texts per line in, their annotations per line out."""
    import importlib

    nlp = importlib.import_module(SPACY_PACKAGE).load()
    for line in sys.stdin.buffer:
        texts = json.loads(line)
        docs = nlp.pipe(texts, batch_size=128)
        out = [_from_doc(t, d).to_json() for t, d in zip(texts, docs, strict=True)]
        sys.stdout.buffer.write(json.dumps(out).encode("ascii") + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve_parses()
