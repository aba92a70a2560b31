"""Prompt templates are files in prompts/: loaded, checked (placeholders must match exactly) and hashed.

Templates use {name} placeholders (str.format); literal braces are written {{ and }}. A template whose
placeholders differ from what its caller supplies fails when loaded, not halfway through a run.
"""
from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from pathlib import Path

from assistant.paths import resource_dir


class PromptError(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    sha256: str
    fields: frozenset[str]

    def render(self, **values: object) -> str:
        missing = self.fields - set(values)
        extra = set(values) - self.fields
        if missing or extra:
            raise PromptError(f"prompt {self.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        return self.text.format(**values)


def placeholders(text: str) -> set[str]:
    names = set()
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None:
            if not field.isidentifier():
                raise PromptError(f"placeholder {{{field}}} is not a plain name")
            names.add(field)
    return names


def load_prompt(name: str, expected: set[str], directory: Path | None = None) -> Prompt:
    """Load prompts/<name> and check that its placeholders are exactly `expected`."""
    path = (directory or resource_dir("prompts")) / name
    if not path.exists():
        raise PromptError(f"prompt file {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        found = placeholders(text)
    except ValueError as exc:
        raise PromptError(f"prompt {path}: {exc}") from exc
    if found != set(expected):
        raise PromptError(f"prompt {path}: placeholders {sorted(found)} but the program supplies {sorted(expected)} "
                          f"(missing: {sorted(set(expected) - found)}, unknown: {sorted(found - set(expected))})")
    return Prompt(name, text, hashlib.sha256(text.encode("utf-8")).hexdigest(), frozenset(found))
