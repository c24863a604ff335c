"""What every command-line entry point shares: the exit statuses and ``Settings`` from parsed options.

``qa`` (:mod:`qa.cli`) and the tooling commands it hands off to (``qa eval`` in
:mod:`qa.evals.cli`, ``qa bench`` in :mod:`qa.tools.bench`) all import from here, so
the arrows run one way: ``qa.cli -> qa.evals.cli / qa.tools.bench -> qa.cli_common``,
and nothing imports ``qa.cli`` back.
"""

from __future__ import annotations

import argparse
from typing import Any

from qa.config import Settings

EXIT_ERROR, EXIT_USAGE, EXIT_SKIPPED, EXIT_REGRESSION = 1, 2, 3, 4

# Command-line options that override the Settings field of the same name when given.
SETTINGS_OPTIONS: tuple[str, ...] = (
    "index_dir",
    "backend",
    "top_k",
    "retrieval_mode",
    "host",
    "port",
    "llm_api_base",
    "embedding_model",
    "store",
    "milvus_uri",
    "milvus_collection",
)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """``Settings`` from the environment, overridden by the options in ``args`` that were given."""
    overrides: dict[str, Any] = {}
    for name in SETTINGS_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)
