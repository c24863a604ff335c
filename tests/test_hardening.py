"""Regression tests of issue 12 (hardening): each finding of the review, fixed at its root.

Nothing is mocked: the splitter runs on real text, the limiter and key checks run
through real uvicorn servers on 127.0.0.1 where a header or a socket matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# -- 1. the sentence splitter is linear on runs of punctuation ------------------------------

# Timed in a child process: a quadratic splitter would hold the GIL for minutes on 100k marks,
# and only a process can be stopped.  10 runs of 10k marks are compared with one run of 100k, so
# a linear splitter gives a ratio near 1 and a quadratic one near 10.
_TIMING = """
import json, sys, time
from qa.chunking import sentence_spans
mark = sys.argv[1]
def best(text, repeat):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            sentence_spans(text)
        times.append(time.perf_counter() - start)
    return min(times)
small = best("Hi " + mark * 10_000, 10)
large = best("Hi " + mark * 100_000, 1)
print(json.dumps({"small": small, "large": large}))
"""


@pytest.mark.parametrize("mark", ["!", ".", "?", "…"])
def test_sentence_splitter_scales_linearly_on_runs_of_punctuation(mark: str) -> None:
    try:
        out = subprocess.run(
            [sys.executable, "-c", _TIMING, mark],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=True,
        ).stdout
    except subprocess.TimeoutExpired:
        pytest.fail(f"splitting 100k {mark!r} took over 60 s: the splitter is super-linear")
    t = json.loads(out)
    ratio = t["large"] / max(t["small"], 1e-6)
    # Linear: ~1 (the same number of characters).  Quadratic: ~10.
    assert ratio < 4, f"100k {mark!r} took {ratio:.1f}x as long as 10 x 10k: not linear ({t})"
