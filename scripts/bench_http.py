"""/search and /ask p50/p95 over HTTP on an existing index, for this tree and a baseline tree, one run.

``qa bench`` ingests the corpus first (tens of minutes on a shared 2-core
machine); this measures only the query path on an index that exists, so a
change to the query path can be compared against a baseline in the same run:
each code tree (``--tree``, default this checkout; ``--baseline-tree``, e.g.
``git archive main | tar -x -C /tmp/qa-main``) serves its own copy of the
index in turn, and each question is asked twice of the one server (distinct
questions, new to it; then the same ones again: the repeated pass shows its caches).

``--corroboration`` measures this tree twice instead, with ``QA_CORROBORATE`` off
and on (corroboration, time-aware answers), and prints the ratio of the ``/ask``
medians: what corroboration costs, measured in one run on one machine.

Usage: python scripts/bench_http.py INDEX_DIR [--baseline-tree DIR | --corroboration] [--questions N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from qa.tools.bench import measure_http

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("index_dir")
    parser.add_argument("--baseline-tree")
    parser.add_argument(
        "--questions-file", default=str(ROOT.parent / "shared/datasets/realtimeqa_news/qa.jsonl")
    )
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "bench/out/http.json"))
    parser.add_argument(
        "--corroboration", action="store_true", help="this tree with QA_CORROBORATE off, then on"
    )
    args = parser.parse_args()
    lines = Path(args.questions_file).read_text("utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()][: args.questions]
    results = {}
    trees = [("baseline", args.baseline_tree, None)] if args.baseline_tree else []
    if args.corroboration:
        trees += [("corroborate_off", str(ROOT), "false"), ("corroborate_on", str(ROOT), "true")]
    else:
        trees.append(("this", str(ROOT), None))
    for label, tree, corroborate in trees:
        copy = Path(tempfile.mkdtemp(prefix=f"qa-http-{label}-")) / "index"
        shutil.copytree(args.index_dir, copy)
        os.environ["PYTHONPATH"] = tree
        if corroborate is not None:
            os.environ["QA_CORROBORATE"] = corroborate
        first, again = measure_http(copy, questions, None, Path(tree), passes=2)["passes"]
        results[label] = {"distinct": first, "repeated": again}
        print(label, json.dumps(results[label]), file=sys.stderr)
        shutil.rmtree(copy.parent, ignore_errors=True)
    if args.corroboration:
        off, on = results["corroborate_off"]["distinct"], results["corroborate_on"]["distinct"]
        results["ask_p50_ratio_on_over_off"] = round(on["ask_p50_ms"] / max(off["ask_p50_ms"], 1e-9), 3)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
