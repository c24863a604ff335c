"""Docs that tests keep true: the README's commands, settings, backends, API and CLI."""

from __future__ import annotations

import re
from pathlib import Path

from qa.answer.backends import BUILTIN_BACKENDS
from qa.cli import build_parser
from qa.config import Settings
from scripts.settings_table import table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, re.DOTALL)
    assert blocks, "README has no command block"
    first = [
        line.split("#")[0].strip()
        for line in blocks[0].splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert first == ["make serve", "make test"]
    # It must come before anything else of substance.
    assert README.index("make serve") < README.index("## ")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_every_setting_is_in_the_readme_table() -> None:
    for name in Settings.model_fields:
        assert f"`QA_{name.upper()}`" in README, f"QA_{name.upper()} missing from README"
    assert table() in README, "README settings table is stale: paste `python scripts/settings_table.py`"


def test_every_backend_name_is_documented() -> None:
    for name in BUILTIN_BACKENDS:
        assert f"`{name}`" in README


def test_every_cli_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert f"qa {name}" in README, f"`qa {name}` missing from README"


def test_every_http_route_is_documented() -> None:
    from qa.server.app import create_app

    app = create_app(Settings())
    for route in app.routes:
        path = getattr(route, "path", "")
        if getattr(route, "include_in_schema", False) and path not in ("/docs", "/redoc", "/openapi.json"):
            for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
                assert f"{method} {path}" in README, f"{method} {path} missing from README"
