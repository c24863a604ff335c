"""qa ingest | annotate | search | ask | serve | eval | bench | migrate | documents | check | mcp | feeds | llm-server.

Exit status: 0 success; 1 an error (the message says what and how to fix it);
2 bad usage; 3 ingest finished but skipped some input (each skip is reported
with its file and line); 4 the eval regressed against its baseline.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qa.cli_common import EXIT_ERROR, EXIT_SKIPPED, EXIT_USAGE
from qa.cli_common import settings_from_args as _settings
from qa.config import Settings
from qa.errors import QAError


def _pipeline(settings: Settings, embedder: Any = None) -> Any:
    from qa.models.embedding import set_torch_threads
    from qa.pipeline import Pipeline  # torch loads here: keep `qa --help` fast

    if settings.torch_threads:
        set_torch_threads(settings.torch_threads)
    return Pipeline(settings, embedder=embedder)


def _filters(args: argparse.Namespace) -> Any:
    from qa.answer.retrieve import Filters

    return Filters(tuple(args.source or ()), args.after, args.before, args.as_of)


def _date(value: str) -> str:
    from qa.ingest.load import normalize_date

    try:
        result = normalize_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if result is None:
        raise argparse.ArgumentTypeError("a date such as 2022-06-16 is required")
    return result


def _workers(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1024:
        raise argparse.ArgumentTypeError(f"{value!r}: 1 to 1024 workers")
    return int(value)


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    settings = _settings(args)
    if args.engine == "ray":  # embedding on Ray workers (qa.ingest.ray_engine); ray is imported there only
        from qa.ingest import ray_engine

        pipeline = _pipeline(settings, ray_engine.RayEmbedder(settings, args.workers))
    else:
        pipeline = _pipeline(settings)
    bar = tqdm(desc="ingest", unit=" articles", file=sys.stderr, disable=args.quiet or None)
    chunks_bar = tqdm(desc="embed", unit=" chunks", file=sys.stderr, disable=args.quiet or None)

    def on_problem(problem: Any) -> None:
        tqdm.write(f"skipped {problem}", file=sys.stderr)

    def progress(articles: int, chunks: int) -> None:
        bar.update(articles)
        chunks_bar.update(chunks)

    run = ray_engine.ingest if args.engine == "ray" else type(pipeline).ingest
    result = run(pipeline, args.paths, on_problem=on_problem, progress=progress)
    bar.close()
    chunks_bar.close()
    r = result.report
    stats = pipeline.stats()
    print(
        f"{len(r.added)} added, {len(r.updated)} updated, {len(r.unchanged)} unchanged; "
        f"{r.chunks_embedded} chunks embedded, {r.chunks_reused} reused; "
        f"index {settings.index_dir}: {stats['documents']} documents, {stats['chunks']} chunks"
    )
    if result.problems:
        print(f"{len(result.problems)} input(s) skipped (listed above)", file=sys.stderr)
        return EXIT_SKIPPED
    if not (r.added or r.updated or r.unchanged):
        print("nothing to ingest: no .txt, .md, .html or .jsonl files found", file=sys.stderr)
        return EXIT_ERROR
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    pipeline = _pipeline(_settings(args))
    passages = pipeline.search(args.question, args.k, filters=_filters(args), mode=args.mode)
    if args.json:
        print(json.dumps([p.__dict__ for p in passages], ensure_ascii=False, indent=2))
        return 0
    if not passages:
        print("no passages match")
    for rank, p in enumerate(passages, 1):
        date = f" {p.published_at}" if p.published_at else ""
        print(f"{rank}. [{p.score:.4f}] {p.title} ({p.doc_id}{date}) chars {p.start}-{p.end}")
        print("   " + " ".join(p.text.split())[:400])
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    pipeline = _pipeline(_settings(args))
    answer = pipeline.ask(args.question, top_k=args.k, backend=args.backend, filters=_filters(args))
    if args.json:
        from qa.server.schemas import AnswerPublic

        print(AnswerPublic.of(answer).model_dump_json(indent=2))
        return 0
    print(answer.answer)
    if answer.citations:
        print()
    for c in answer.citations:
        print(f"[{c.n}] {c.title} ({c.doc_id}) chars {c.start}-{c.end}")
        print("    " + " ".join(c.text.split()))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.server.app import create_app
    from qa.server.observability import configure_logging
    from qa.server.serve import run, serve_secrets
    from qa.store import store_exists

    settings = _settings(args)
    # Before anything logs, so every line (seeding, model loading, uvicorn) has one format.
    level = configure_logging(
        args.log_level or settings.log_level,
        settings.log_json,
        secrets=serve_secrets(settings),
    )
    log = logging.getLogger("qa.serve")
    if args.seed:
        pipeline = _pipeline(settings)
        empty = not store_exists(settings) or pipeline.stats()["documents"] == 0
        if empty:
            log.info("index %s is empty: ingesting %s", settings.index_dir, settings.seeds_dir)
            result = pipeline.ingest([settings.seeds_dir])
            for problem in result.problems:
                log.warning("skipped %s", problem)
    else:
        pipeline = None
    run(create_app(settings, pipeline), settings, level)
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    pipeline = _pipeline(_settings(args))
    if args.action == "list":
        total, docs = pipeline.list_documents(offset=args.offset, limit=args.limit)
        for d in docs:
            print(f"{d.id}\t{d.published_at or '-'}\t{d.source or '-'}\t{d.chunk_count} chunks\t{d.title}")
        print(f"{len(docs)} of {total} documents", file=sys.stderr)
    elif args.action == "show":
        d = pipeline.get_document(args.id)
        print(json.dumps({k: v for k, v in d.__dict__.items()}, ensure_ascii=False, indent=2))
    else:
        deleted = pipeline.delete(args.ids)
        missing = sorted(set(args.ids) - set(deleted))
        print(f"deleted {len(deleted)} document(s)")
        if missing:
            print(f"not found: {', '.join(missing)}", file=sys.stderr)
            return EXIT_ERROR
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    pipeline = _pipeline(_settings(args))
    problems, stats = pipeline.check(), pipeline.stats()
    for problem in problems:
        print(f"problem: {problem}")
    n, state = stats["documents"], "consistent" if not problems else "INCONSISTENT"
    print(f"{n} documents, {stats['chunks']} chunks, generation {stats['generation']}: {state}")
    if pending := pipeline.backlog.count():  # not a problem: questions parse what they need meanwhile
        print(f"{pending} articles not parsed yet (QA_ANNOTATE=deferred): `qa annotate` parses them")
    return EXIT_ERROR if problems else 0


def cmd_mcp(args: argparse.Namespace) -> int:
    import anyio

    from qa.server.mcp_server import run_stdio

    pipeline = _pipeline(_settings(args))
    # Load the model and index before the first message, so the client's first call is fast.
    pipeline.warm_up()
    anyio.run(run_stdio, pipeline)
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    from qa.ingest.feed_store import FeedStore
    from qa.ingest.feeds import FeedReader

    settings = _settings(args)
    store = FeedStore(settings.index_dir)
    if args.action == "add":
        feed, created = store.add(args.url, args.source or "")
        print(f"{'added' if created else 'already subscribed:'} {feed.url}; `qa feeds poll` reads it")
        return 0
    if args.action == "remove":
        store.remove(args.url)
        print(f"removed {args.url}")
        return 0
    feeds = store.list()
    if args.action == "list":
        for f in feeds:
            polled = time.strftime("%Y-%m-%d %H:%M", time.gmtime(f.polled_at)) if f.polled_at else "never"
            print(f"{f.url}\t{f.source or f.title or '-'}\t{f.status}\t{polled}\t{f.error or ''}".rstrip())
        print(f"{len(feeds)} feed(s)", file=sys.stderr)
        return 0
    if not feeds:
        print("qa: no feeds: add one with `qa feeds add URL`", file=sys.stderr)
        return EXIT_ERROR
    pipeline = _pipeline(settings)
    reader = FeedReader(settings, pipeline.add_articles, store=store)
    try:
        reports = reader.poll(args.urls)
    finally:
        reader.close()
    for r in reports:
        print(r.summary())
        for link, reason in r.problems:
            print(f"  skipped {link}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps([r.__dict__ for r in reports], ensure_ascii=False, indent=2))
    return EXIT_SKIPPED if any(not r.ok for r in reports) else 0


def cmd_llm_server(args: argparse.Namespace) -> int:
    from qa.tools.local_llm_cli import main as llm_main

    return llm_main(args.rest)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose options may be declared by another module, imported on first parse.

    ``declare="qa.evals.cli"`` calls that module's ``add_arguments(parser)`` when the
    command is actually parsed, so ``qa serve`` never imports the tooling packages.
    """

    def __init__(self, *args: Any, declare: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._declare = declare

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._declare is not None:
            module, self._declare = importlib.import_module(self._declare), None
            module.add_arguments(self)
        return super().parse_known_args(args, namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qa", description="Cited answers over news articles.")
    parser.add_argument("--index-dir", type=Path, help="index directory (QA_INDEX_DIR, default index/)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Also accepted after the command (`qa ingest seeds/ --index-dir X`); SUPPRESS keeps the global value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index-dir", type=Path, default=argparse.SUPPRESS, help="index directory (QA_INDEX_DIR)"
    )
    add_parser = sub.add_parser

    def sub_parser(*a: Any, **kw: Any) -> argparse.ArgumentParser:
        return add_parser(*a, parents=[common], **kw)

    sub.add_parser = sub_parser  # type: ignore[method-assign]

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--source", action="append", help="only this source (repeatable)")
        p.add_argument("--after", type=_date, help="only articles published on or after this date")
        p.add_argument("--before", type=_date, help="only articles published on or before this date")
        p.add_argument("--as-of", type=_date, help="answer as of this date (later articles excluded)")

    p = sub.add_parser("ingest", help="add or update articles from files and directories")
    p.add_argument("paths", nargs="+", help=".txt, .md, .html, .jsonl files or directories")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--engine", choices=["local", "ray"], default="local", help="embed here or on Ray (RAY_ADDRESS)"
    )
    p.add_argument("--workers", type=_workers, help="Ray embedding actors (default: one per core)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="top-k passages for a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], help="retrieval mode (QA_RETRIEVAL_MODE)")
    p.add_argument("--json", action="store_true", help="print JSON")
    filters(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited passages")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (QA_TOP_K)")
    p.add_argument("--backend", help="extractive or litellm:<model> (QA_BACKEND)")
    p.add_argument("--llm-api-base", help="base URL for the litellm backend (QA_LLM_API_BASE)")
    p.add_argument("--json", action="store_true", help="print the answer as the API's JSON")
    filters(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the HTTP API (FastAPI on uvicorn)")
    p.add_argument("--host", help="bind address (QA_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (QA_PORT, default 8000)")
    p.add_argument("--backend", help="default backend (QA_BACKEND)")
    p.add_argument("--llm-api-base", help="base URL for the litellm backend (QA_LLM_API_BASE)")
    p.add_argument("--seed", action="store_true", help="ingest the seed articles first if the index is empty")
    p.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (QA_LOG_LEVEL, default info)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("documents", help="list, show or delete stored documents")
    dsub = p.add_subparsers(dest="action", required=True)
    d = dsub.add_parser("list", parents=[common])
    d.add_argument("--offset", type=int, default=0)
    d.add_argument("--limit", type=int, default=50)
    d = dsub.add_parser("show", parents=[common])
    d.add_argument("id")
    d = dsub.add_parser("delete", parents=[common])
    d.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_documents)

    p = sub.add_parser("check", help="verify that the FAISS index and the chunk store agree")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("mcp", help="serve search, ask and document lookup as MCP tools over stdio")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("feeds", help="subscribe to RSS/Atom feeds and ingest their new articles")
    fsub = p.add_subparsers(dest="action", required=True)
    f = fsub.add_parser("add", parents=[common], help="subscribe to a feed")
    f.add_argument("url", help="the feed's http(s) URL")
    f.add_argument("--source", help="source name for its articles (default: the feed's title)")
    f = fsub.add_parser("remove", parents=[common], help="unsubscribe (its articles stay)")
    f.add_argument("url")
    fsub.add_parser("list", parents=[common], help="the feeds and their last poll")
    f = fsub.add_parser(
        "poll", parents=[common], help="fetch every feed (or those named) and ingest new items"
    )
    f.add_argument("urls", nargs="*", help="only these feeds")
    f.add_argument("--json", action="store_true", help="also print the reports as JSON")
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("llm-server", help="serve the offline SmolLM2 model on 127.0.0.1 (OpenAI-compatible)")
    p.add_argument(
        "rest", nargs=argparse.REMAINDER, help="options of python -m qa.tools.local_llm (--port, --alias)"
    )
    p.set_defaults(func=cmd_llm_server)

    # Tooling, outside the service: their modules load only when the command is parsed.
    sub.add_parser("eval", help="run the eval harness over known Q&A pairs", declare="qa.evals.cli")
    sub.add_parser("bench", help="benchmark ingest throughput and HTTP latency", declare="qa.tools.bench")
    sub.add_parser(
        "migrate",
        help="copy the embedded index into Milvus (no re-embedding)",
        declare="qa.tools.migrate_cli",
    )
    sub.add_parser(
        "annotate", help="parse what a deferred ingest left (QA_ANNOTATE)", declare="qa.tools.annotate_cli"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Start-up, before any library below is imported (importing qa.cli imports none of them): these
    # three are read from the environment only, with no argument to pass instead.  litellm fetches a
    # price list at import unless LITELLM_LOCAL_MODEL_COST_MAP is set; huggingface_hub reads
    # HF_HUB_OFFLINE at import (litellm's tokenizers go through it); the tokenizers library reads
    # TOKENIZERS_PARALLELISM.  Nothing in qa writes os.environ after this point.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["llm-server"]:
        # Its options belong to qa.tools.local_llm_cli; argparse's REMAINDER drops leading "--port" style ones.
        return cmd_llm_server(argparse.Namespace(rest=argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            print(f"qa: invalid setting {field} (QA_{field.upper()}): {err['msg']}", file=sys.stderr)
        return EXIT_USAGE
    except QAError as exc:
        print(f"qa: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`qa ... | head`)
        return 0


if __name__ == "__main__":
    sys.exit(main())
