"""The package layout is the data flow: imports run one way, tooling stays out of the service.

Stages, lowest first (a module may import its own stage and the stages below it):

0. foundations: ``qa.types``, ``qa.errors``, ``qa.config``, ``qa.text``
1. ``qa.models`` (the embedder, the annotator) and ``qa.ingest`` (load, chunk, feeds)
2. ``qa.store`` (records, vectors, consistency)
3. ``qa.answer`` (retrieve, backends, verify, assess)
4. ``qa.pipeline`` (the order of the stages)
5. ``qa.server`` (HTTP, MCP, the OpenAI-compatible routes)
6. ``qa.cli`` (the entry point; it alone may load ``qa.evals`` / ``qa.tools``, inside a subcommand)

``qa.evals`` and ``qa.tools`` sit outside: they may import the service; the
service never imports them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qa"
MAX_LINES = 420  # "no module over ~400 lines"

STAGES: list[tuple[str, ...]] = [
    ("qa", "qa.types", "qa.errors", "qa.config", "qa.text"),
    ("qa.models", "qa.ingest"),
    ("qa.store",),
    ("qa.answer",),
    ("qa.pipeline",),
    ("qa.server",),
    ("qa.cli", "qa.__main__"),
]
OUTSIDE = ("qa.evals", "qa.tools")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _stage(name: str) -> int | None:
    """The stage of a module; ``None`` for evals and tools (outside the service)."""
    if any(_within(name, p) for p in OUTSIDE):
        return None
    best: tuple[int, int] | None = None  # (prefix length, stage): the longest prefix wins
    for stage, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if _within(name, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), stage)
    assert best is not None, f"{name} is in no stage of tests/test_layout.py"
    return best[1]


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every ``qa`` module a file imports (at the top or inside a function), with its line."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _within(node.module, "qa"):
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, node.lineno) for a in node.names if _within(a.name, "qa"))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_stage() -> None:
    for path in MODULES:
        _stage(_module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path: Path) -> None:
    name = _module_name(path)
    stage = _stage(name)
    if stage is None:
        return  # evals and tools may use the whole service
    for target, line in _imports(path):
        target_stage = _stage(target)
        assert target_stage is not None or name == "qa.cli", (
            f"{name}:{line} imports {target}: the service never imports evals or tools"
        )
        if target_stage is not None:
            assert target_stage <= stage, (
                f"{name}:{line} (stage {stage}) imports {target} (stage {target_stage}): "
                "a stage imports only the stages before it"
            )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_too_long(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by what it does"


def test_serving_loads_no_tooling() -> None:
    """Importing the HTTP app (what `qa serve` runs) loads neither the eval harness nor the tools."""
    code = (
        "import sys, qa.server.app, qa.pipeline; "
        "print(sorted(m for m in sys.modules if m.startswith(('qa.evals', 'qa.tools'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
