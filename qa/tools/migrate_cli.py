"""``qa migrate --to milvus``: the embedded index copied into Milvus, vectors and all (no re-embedding).

The work is :func:`qa.store.migrate.migrate_to_milvus`; this module is the
command: options, a progress bar, the report, the exit status (0 verified; 1
the target differs from the source, or the source or Milvus can't be opened).
The target is ``QA_MILVUS_URI`` / ``QA_MILVUS_COLLECTION`` (``--uri``,
``--collection`` override them); the source is ``--from`` (default
``QA_INDEX_DIR``).  Afterwards run ``QA_STORE=milvus qa check``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from qa.cli_common import EXIT_ERROR, settings_from_args


def _batch(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 10_000:
        raise argparse.ArgumentTypeError(f"{value!r}: a batch is 1 to 10000 documents")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``qa migrate``'s options on its subparser (called by :mod:`qa.cli` when it is parsed)."""
    p.add_argument("--to", required=True, choices=["milvus"], help="the target store")
    p.add_argument(
        "--from", dest="source", type=Path, help="the embedded index to copy (default QA_INDEX_DIR)"
    )
    p.add_argument("--uri", dest="milvus_uri", help="Milvus URI or Milvus Lite file (QA_MILVUS_URI)")
    p.add_argument(
        "--collection", dest="milvus_collection", help="collection name prefix (QA_MILVUS_COLLECTION)"
    )
    p.add_argument("--batch", type=_batch, default=100, help="documents per write (default 100)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run, store="milvus")


def run(args: argparse.Namespace) -> int:
    from pymilvus.exceptions import MilvusException
    from tqdm import tqdm

    from qa.store.migrate import copy_sidecars, migrate_to_milvus

    settings = settings_from_args(args)  # a bad --collection: an invalid-setting message, exit 2
    source = args.source or settings.index_dir
    target = settings.milvus_uri or str(Path(settings.index_dir) / "milvus.db")
    bar = tqdm(desc="migrate", unit=" documents", file=sys.stderr, disable=args.quiet or None)
    start = time.perf_counter()
    try:
        report = migrate_to_milvus(
            source,
            settings,
            batch=args.batch,
            progress=bar.update,
            on_start=lambda n: setattr(bar, "total", n),
        )
    except MilvusException as exc:
        bar.close()
        print(f"qa: Milvus at {target} refused the migration: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    bar.close()
    copied = copy_sidecars(source, settings.index_dir)
    print(
        f"{report.documents} documents: {report.copied} copied, {report.skipped} already in Milvus; "
        f"{report.chunks} chunks and {report.sentence_vectors} sentence vectors written "
        f"to {target} (collections {settings.milvus_collection}_*) in {time.perf_counter() - start:.1f} s"
        + (f"; copied {', '.join(copied)} to {settings.index_dir}" if copied else "")
    )
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if report.problems:
        return EXIT_ERROR
    print("verified: the same documents, chunk counts and sentence vectors as the source")
    return 0
