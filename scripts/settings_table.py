"""Print the README's settings table from qa.config.Settings (README must match: tests/test_docs.py)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from qa.config import PROJECT_ROOT, Settings


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, Path):
        with contextlib.suppress(ValueError):
            value = value.relative_to(PROJECT_ROOT)
        return f"`{value}`"
    if value is None or value == []:
        return "(none)"
    return f"`{value}`"


def table() -> str:
    lines = ["| Environment variable | Default | What it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        lines.append(f"| `QA_{name.upper()}` | {_default(name)} | {field.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
