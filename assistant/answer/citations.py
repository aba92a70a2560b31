"""Citations in an answer: [1], [1, 3], [1][2], [1-3], 【1】, ［1］. Checked against the sources actually given and
mapped to chunk ids; a number outside 1..k is reported as invalid, never kept."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

MAX_RANGE = 20
"""[1-3] expands to 1, 2, 3; a wider 'range' is more likely a year span or a typo than a citation."""

_OPEN, _CLOSE = r"[\[［【〔]", r"[\]］】〕]"
_NUM = r"\d+(?:\s*[-–—~～至到]\s*\d+)?"
_SEP = r"\s*(?:[,，、;；]|and|和|及)\s*"
_PREFIX = r"(?:\^|(?:sources?|src|refs?|doc|来源|资料|文档|出处)\s*[:：#]?\s*)?"
_MARKER = re.compile(rf"{_OPEN}\s*{_PREFIX}({_NUM}(?:{_SEP}{_PREFIX}{_NUM})*)\s*{_CLOSE}", re.IGNORECASE)
_RANGE = re.compile(r"(\d+)\s*[-–—~～至到]\s*(\d+)")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)


@dataclass(frozen=True)
class Citation:
    raw: str
    """The marker as written, e.g. '【1，3】'."""
    numbers: tuple[int, ...]


@dataclass
class CitationCheck:
    """The citations of one answer, checked against the k sources it was given."""

    n_sources: int
    markers: list[Citation] = field(default_factory=list)
    valid: list[int] = field(default_factory=list)
    """Distinct source numbers within 1..k, in order of first use."""
    invalid: list[int] = field(default_factory=list)
    """Distinct numbers outside 1..k: the answer cites something it was never given."""
    chunk_ids: list[int] = field(default_factory=list)
    """Chunk ids of the valid numbers, same order."""

    @property
    def none(self) -> bool:
        """True when the answer cites no valid source at all."""
        return not self.valid

    def to_dict(self) -> dict:
        """JSON-able form for the run log."""
        return {"valid": self.valid, "invalid": self.invalid, "chunk_ids": self.chunk_ids,
                "markers": [c.raw for c in self.markers], "n_sources": self.n_sources, "none": self.none}


def _strip_code(text: str) -> str:
    # Indexing like arr[1] inside code is not a citation.
    return _CODE.sub(" ", text)


def parse_citations(text: str) -> list[Citation]:
    """Every citation marker in text, in order, with its numbers (ranges expanded)."""
    found = []
    plain = _strip_code(text)
    for m in _MARKER.finditer(plain):
        inner = unicodedata.normalize("NFKC", m.group(1))
        numbers: list[int] = []
        for part in re.split(_SEP, inner, flags=re.IGNORECASE):
            part = re.sub(r"^\D*", "", part)
            rng = _RANGE.fullmatch(part.strip())
            if rng:
                lo, hi = int(rng.group(1)), int(rng.group(2))
                numbers.extend(range(lo, hi + 1) if 0 < hi - lo <= MAX_RANGE else (lo, hi))
            elif part.strip().isdigit():
                numbers.append(int(part))
        if numbers:
            found.append(Citation(m.group(0), tuple(numbers)))
    return found


def check_citations(text: str, context: Sequence) -> CitationCheck:
    """Parse text's citations and check them against context (items with .index and .candidate.chunk_id)."""
    by_number = {item.index: item.candidate.chunk_id for item in context}
    check = CitationCheck(n_sources=len(context), markers=parse_citations(text))
    for cite in check.markers:
        for n in cite.numbers:
            if n in by_number:
                if n not in check.valid:
                    check.valid.append(n)
                    check.chunk_ids.append(by_number[n])
            elif n not in check.invalid:
                check.invalid.append(n)
    return check
