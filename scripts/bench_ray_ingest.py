"""The Ray ingest engine's overhead on this machine: ``qa ingest`` beside ``qa ingest --engine ray``, one run.

The first ``--articles`` articles of the news corpus are ingested into a fresh
Milvus Lite file twice, each a ``qa ingest`` subprocess under ``nice -n 10``
(the machine is shared): the plain engine, then Ray in local mode (one worker
per core).  Both times are wall clock for the whole command (start-up, model
loading, Ray's start, embedding, annotation, writes), ``--repeats`` times each,
alternating; the figure is the median and the ratio ray / plain.  Both stores
must end with the same documents and chunks.

Usage: python scripts/bench_ray_ingest.py [--articles 80] [--repeats 1]
Writes bench/out/ray_ingest.json and prints it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ingest(corpus: Path, index: Path, engine: str) -> float:
    env = {**os.environ, "QA_STORE": "milvus", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("RAY_ADDRESS", None)
    cmd = ["nice", "-n", "10", str(Path(sys.executable).parent / "qa"), "ingest", str(corpus), "-q"]
    cmd += ["--index-dir", str(index), "--engine", engine]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{engine} ingest failed ({done.returncode}):\n{done.stderr[-3000:]}")
    print(f"{engine}: {seconds:.1f} s: {done.stdout.strip()}", file=sys.stderr)
    return seconds


def counts(index: Path) -> dict[str, int]:
    env = {**os.environ, "QA_STORE": "milvus", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "qa"), "check", "--index-dir", str(index)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {"documents": int(out[out.index("documents,") - 1]), "chunks": int(out[out.index("chunks,") - 1])}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=ROOT.parent / "shared/datasets/realtimeqa_news/corpus.jsonl"
    )
    parser.add_argument("--articles", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/ray_ingest.json")
    args = parser.parse_args()

    times: dict[str, list[float]] = {"plain": [], "ray": []}
    with tempfile.TemporaryDirectory(prefix="qa-ray-bench-") as tmp:
        corpus = Path(tmp) / "subset.jsonl"
        with args.corpus.open("r", encoding="utf-8") as f:
            corpus.write_text("".join(itertools.islice(f, args.articles)), "utf-8")
        found: dict[str, dict[str, int]] = {}
        for i in range(args.repeats):
            for engine in ("plain", "ray") if i % 2 == 0 else ("ray", "plain"):
                index = Path(tmp) / f"{engine}-{i}"
                times[engine].append(ingest(corpus, index, "local" if engine == "plain" else "ray"))
                found[engine] = counts(index)
    if found["plain"] != found["ray"]:
        raise SystemExit(f"the stores differ: {found}")
    plain, ray = statistics.median(times["plain"]), statistics.median(times["ray"])
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other jobs; nice -n 10",
        "articles": args.articles,
        "store": "Milvus Lite file",
        "counts": found["plain"],
        "plain_s": round(plain, 1),
        "ray_s": round(ray, 1),
        "overhead_s": round(ray - plain, 1),
        "ratio": round(ray / plain, 2),
        "runs": {k: [round(t, 1) for t in v] for k, v in times.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
