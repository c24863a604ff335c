"""``qa eval``: run the eval harness (dataset -> run -> baseline -> report) over a corpus indexed with the current settings.

The corpus is ingested into its own index directory (``index/eval-<name>`` by
default) so an eval never touches the serving index; ingest is idempotent, so
a second run reuses the vectors and starts in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qa.cli_common import EXIT_ERROR, EXIT_REGRESSION, EXIT_SKIPPED, settings_from_args
from qa.config import Settings
from qa.types import Answer, Passage

SHARED_NEWS = Path("../shared/datasets/realtimeqa_news")


class PipelineTarget:
    """Adapts a Pipeline to the harness's EvalTarget protocol."""

    def __init__(self, pipeline: Any, backend: str | None, use_as_of: bool, mode: str | None) -> None:
        self.pipeline = pipeline
        self.backend = backend
        self.use_as_of = use_as_of
        self.mode = mode

    def search(self, question: str, k: int, as_of: str | None = None) -> list[Passage]:
        return self.pipeline.search(question, k, as_of=as_of if self.use_as_of else None, mode=self.mode)

    def ask(self, question: str, as_of: str | None = None) -> Answer:
        return self.pipeline.ask(question, backend=self.backend, as_of=as_of if self.use_as_of else None)


def default_corpus(questions: Path, settings: Settings) -> Path:
    """The news questions' corpus.jsonl beside them; otherwise the seed articles."""
    beside = questions.parent / "corpus.jsonl"
    return beside if beside.exists() and questions.name != "seed_qa.jsonl" else Path(settings.seeds_dir)


def run(args: argparse.Namespace) -> int:
    from qa.evals.baseline import compare_to_baseline
    from qa.evals.dataset import load_eval_items
    from qa.evals.report import summary_table, write_results
    from qa.evals.run import run_eval
    from qa.pipeline import Pipeline

    settings = settings_from_args(args)
    files = [Path(f) for f in args.file]
    questions = files[0]
    items = [item for f in files for item in load_eval_items(f)]
    if args.limit:
        items = items[: args.limit]
    corpus = Path(args.corpus) if args.corpus else default_corpus(questions, settings)
    if not corpus.exists():
        print(f"qa: corpus {corpus} not found (give it with --corpus)", file=sys.stderr)
        return EXIT_ERROR
    name = corpus.parent.name if corpus.name == "corpus.jsonl" else corpus.stem
    index_dir = Path(args.eval_index_dir or Path(settings.index_dir) / f"eval-{name}")
    update: dict[str, Any] = {"index_dir": index_dir}
    if args.mode:
        update["retrieval_mode"] = args.mode  # the mode answers retrieve with too, not just the metrics
    if args.backend:
        update["backend"] = args.backend
    settings = settings.model_copy(update=update)
    pipeline = Pipeline(settings)
    print(f"indexing {corpus} into {index_dir} (unchanged articles are skipped)", file=sys.stderr)
    from tqdm import tqdm

    with tqdm(desc="embed", unit=" chunks", file=sys.stderr, mininterval=2.0) as bar:
        ingest = pipeline.ingest([corpus], progress=lambda _a, c: bar.update(c))
    if ingest.problems:
        for problem in ingest.problems:
            print(f"skipped {problem}", file=sys.stderr)
    backend = args.backend or settings.backend
    target = PipelineTarget(pipeline, backend, not args.no_as_of, args.mode)
    result = run_eval(items, target, k=args.k, progress=True)
    meta = {
        "questions": ", ".join(map(str, files)),
        "corpus": str(corpus),
        "backend": backend,
        "retrieval": args.mode or settings.retrieval_mode,
        "embedding_model": settings.embedding_model,
        "chunk_words": settings.chunk_words,
        "top_k": settings.top_k,
        "as_of": not args.no_as_of,
        "items": len(items),
    }
    out = Path(
        args.out or Path("evals/out") / f"{questions.stem}-{backend.replace(':', '_').replace('/', '_')}"
    )
    json_path, html_path = write_results(
        result,
        out,
        title=f"qa eval: {questions.name} ({backend})",
        meta=meta,
        baseline=args.baseline,
        tolerance=args.tolerance,
    )
    print(summary_table(result, args.baseline, args.tolerance))
    print(f"results: {json_path}\nreport:  {html_path}")
    if args.baseline:
        regressions = compare_to_baseline(result, args.baseline, args.tolerance)
        for r in regressions:
            print(
                f"REGRESSION {r.metric}: {r.baseline:.3f} -> {r.current:.3f} (tolerance {r.tolerance})",
                file=sys.stderr,
            )
        if regressions:
            return EXIT_REGRESSION
    if args.write_baseline:
        Path(args.write_baseline).write_text(
            json.dumps(json.loads(json_path.read_text())["summary"], indent=2) + "\n"
        )
        print(f"baseline written to {args.write_baseline}")
    return EXIT_SKIPPED if ingest.problems else 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``qa eval``'s options on its subparser (called by :mod:`qa.cli` when it is parsed)."""
    p.add_argument(
        "file",
        nargs="+",
        help="Q&A pairs as JSONL (evals/seed_qa.jsonl, the news set's qa.jsonl, evals/news_nearmiss.jsonl); several are run together",
    )
    p.add_argument("--corpus", help="articles to index (default: corpus.jsonl beside FILE, else seeds/)")
    p.add_argument("--backend", help="answer backend (default QA_BACKEND)")
    p.add_argument(
        "--mode", choices=["hybrid", "dense", "bm25"], help="retrieval mode (default QA_RETRIEVAL_MODE)"
    )
    p.add_argument(
        "--baseline", help="a results.json or summary JSON; exit 4 on a regression beyond --tolerance"
    )
    p.add_argument("--tolerance", type=float, default=0.02, help="allowed drop per metric (default 0.02)")
    p.add_argument("--write-baseline", help="write this run's summary as a baseline file")
    p.add_argument("--out", help="output directory (default evals/out/<questions>-<backend>)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument(
        "-k", type=int, default=10, help="passages retrieved for the retrieval metrics (default 10)"
    )
    p.add_argument(
        "--eval-index-dir", help="index directory for the corpus (default <QA_INDEX_DIR>/eval-<name>)"
    )
    p.add_argument("--no-as-of", action="store_true", help="ignore the questions' dates")
    p.set_defaults(func=run)
