"""``qa annotate``: parse now what a ``QA_ANNOTATE=deferred`` ingest left (:mod:`qa.ingest.backlog`).

``--all`` first queues every stored article (an index built ``lazy``, or before the
backlog existed); articles already parsed cost a lookup each.  Prints what it did; exit 0.
"""

from __future__ import annotations

import argparse
import sys
import time

from qa.cli_common import settings_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``qa annotate``'s options (called by :mod:`qa.cli` when it is parsed)."""
    p.add_argument("--all", action="store_true", help="queue every stored article first")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qa.ingest.backlog import annotate_pending
    from qa.pipeline import Pipeline

    pipeline = Pipeline(settings_from_args(args))
    store = pipeline.store  # IndexNotBuilt (exit 1 with its message) when there is none
    if args.all:
        offset, total = 0, 1
        while offset < total:
            total, page = store.list_documents(offset=offset, limit=500)
            pipeline.backlog.add(d.id for d in page)
            offset += len(page) or total
    pending = pipeline.backlog.count()
    bar = tqdm(total=pending, desc="annotate", unit=" articles", file=sys.stderr, disable=args.quiet or None)
    start = time.perf_counter()
    parsed = annotate_pending(pipeline, progress=lambda articles, _: bar.update(articles), parallel=True)
    bar.close()
    print(f"{pending} articles, {parsed} sentences parsed in {time.perf_counter() - start:.1f} s")
    return 0
