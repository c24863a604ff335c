"""Prompt templates from ``prompts/``: declared variables, validated on load and on render.

A template file starts with a header line ``#! variables: a b c`` naming the
variables it uses as ``$a``; the body is a :class:`string.Template`.  Loading
fails if the body uses an undeclared variable or misses a declared one;
rendering fails if a declared variable is not given.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa.errors import ConfigError
from qa.types import Passage

_HEADER = re.compile(r"^#!\s*variables:(?P<names>[^\n]*)\n")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    variables: frozenset[str]
    template: string.Template

    def render(self, **values: str) -> str:
        missing = self.variables - values.keys()
        if missing:
            raise ConfigError(f"prompt {self.name!r} needs {', '.join(sorted(missing))}")
        extra = values.keys() - self.variables
        if extra:
            raise ConfigError(f"prompt {self.name!r} does not use {', '.join(sorted(extra))}")
        return self.template.substitute(values)


def parse_template(name: str, text: str) -> PromptTemplate:
    """Validate and parse one template's text."""
    match = _HEADER.match(text)
    if not match:
        raise ConfigError(f"prompt {name!r} must start with a line '#! variables: name ...'")
    declared = frozenset(match.group("names").split())
    body = text[match.end() :]
    template = string.Template(body)
    if not template.is_valid():
        raise ConfigError(f"prompt {name!r} has an invalid $placeholder (write $$ for a literal dollar)")
    used = frozenset(template.get_identifiers())
    if used != declared:
        raise ConfigError(
            f"prompt {name!r} declares {sorted(declared)} but uses {sorted(used)}: the header and body must agree"
        )
    return PromptTemplate(name, declared, template)


@lru_cache(maxsize=32)
def load_prompt(prompts_dir: Path, name: str) -> PromptTemplate:
    """``prompts_dir/name.txt``, parsed and validated (cached per directory and name)."""
    path = Path(prompts_dir) / f"{name}.txt"
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"prompt template {path} cannot be read: {exc.strerror or exc}") from exc
    return parse_template(name, text)


def _quote_safe(text: str) -> str:
    """``text`` with the quoting delimiters defused, so data can't close its own quote."""
    return text.replace("<<<", "‹‹‹").replace(">>>", "›››")


def _metadata(value: str) -> str:
    """One line of metadata: whitespace (line breaks included) collapsed, delimiters defused.

    Titles and sources come from whoever wrote the article, like its text: a title
    with a line break and ``>>>`` could otherwise end the quote and write its own
    "instructions" or passage header outside it.
    """
    return _quote_safe(" ".join(value.split()))


def format_passages(passages: list[Passage]) -> str:
    """Number the passages and frame each as quoted data, not instructions.

    Everything that came with an article (title, source, date and text) is inside
    its ``<<< >>>`` block; only the passage number, which qa assigns, is outside.
    """
    blocks = []
    for n, p in enumerate(passages, 1):
        meta = [f"title: {_metadata(p.title)}"] if p.title.strip() else []
        if p.source and p.source.strip():
            meta.append(f"source: {_metadata(p.source)}")
        if p.published_at:
            meta.append(f"published: {_metadata(p.published_at)}")
        head = "\n".join(meta) + "\n\n" if meta else ""
        blocks.append(f"[{n}]\n<<<\n{head}{_quote_safe(p.text)}\n>>>")
    return "\n\n".join(blocks)
