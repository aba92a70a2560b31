"""Gold questions for answer evaluation: which files an answer should cite, which it must not, and whether the
knowledge base can answer at all. One JSON object a line (bench/gold_demo.jsonl is the demo set)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePath


class GoldError(ValueError):
    pass


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    lang: str
    kind: str
    expected: tuple[str, ...]
    """Files (paths relative to the knowledge base, e.g. 'en/etcd-concurrency-lock.md') an answer should cite."""
    forbidden: tuple[str, ...]
    """Files an answer must not cite (what the question rules out, or documents that do not answer it)."""
    abstain: bool
    """True when the knowledge base does not answer the question: saying so is the right answer."""


def load_gold(path: Path) -> list[GoldQuestion]:
    """Every question of the file, checked; GoldError names the line of the first problem."""
    out, seen = [], set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldError(f"cannot read {path}: {exc.strerror or exc}") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = GoldQuestion(id=str(row["id"]), question=str(row["question"]), lang=str(row.get("lang", "")),
                             kind=str(row.get("kind", "")), expected=tuple(row.get("expected", ())),
                             forbidden=tuple(row.get("forbidden", ())), abstain=bool(row.get("abstain", False)))
        except (ValueError, KeyError, TypeError) as exc:
            raise GoldError(f"{path}:{n}: not a gold question ({type(exc).__name__}: {exc})") from None
        if q.id in seen:
            raise GoldError(f"{path}:{n}: duplicate id {q.id!r}")
        if not q.abstain and not q.expected:
            raise GoldError(f"{path}:{n}: an answerable question needs expected files")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise GoldError(f"{path}: no questions")
    return out


def matches(source: str, files) -> bool:
    """True when source (a stored path) ends with one of files' relative paths, compared part by part."""
    parts = PurePath(source).parts
    for f in files:
        want = PurePath(f).parts
        if want and tuple(parts[-len(want):]) == want:
            return True
    return False
