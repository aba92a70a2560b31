"""Defensive parsing of a listwise reply like "[3] > [1] > [2]" into a permutation of passage positions.

Models wrap the list in prose, repeat ids, invent ids, stop early or answer nothing. The rule (as in RankGPT and
rank_llm): keep the first mention of each valid id, drop duplicates and out-of-range ids, append the ids the
reply left out in their previous order; a reply with no usable id leaves the window as it was.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# NFKC turns full-width ［３］ into [3]; 【3】 is not touched by NFKC and Chinese models like it.
_BRACKETED = re.compile(r"[\[【]\s*(\d+)\s*[\]】]")
# Without brackets, only a chain such as "3 > 1 > 2" counts: a lone number in prose is not a ranking.
_CHAIN = re.compile(r"\d+(?:\s*(?:>|,|，|、)\s*\d+)+")


@dataclass
class Permutation:
    order: list[int]
    """0-based positions in the window, best first; always a full permutation of range(n)."""
    ok: bool
    """The reply named every id exactly once and nothing else (no repair was needed)."""
    usable: bool = True
    """False when the reply held no valid id at all (the order is then the previous one)."""
    duplicates: list[int] = field(default_factory=list)
    out_of_range: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    """1-based ids, as the model saw them."""

    def problems(self) -> dict:
        """The repairs made, for the trace (empty when ok)."""
        out = {k: v for k, v in (("duplicates", self.duplicates), ("out_of_range", self.out_of_range),
                                 ("missing", self.missing)) if v}
        if not self.usable:
            out["unusable"] = True
        return out


def mentioned_ids(reply: str) -> list[int]:
    """The ids in the reply in order of mention: bracketed ones if any, else a '>'-chain of numbers."""
    text = unicodedata.normalize("NFKC", reply or "")
    ids = [int(m) for m in _BRACKETED.findall(text)]
    if ids:
        return ids
    chain = _CHAIN.search(text)
    return [int(m) for m in re.findall(r"\d+", chain.group(0))] if chain else []


def parse_permutation(reply: str, n: int) -> Permutation:
    """Parse a reply ranking passages [1]..[n] into a full 0-based permutation (see the module doc)."""
    seen: list[int] = []
    dup: list[int] = []
    bad: list[int] = []
    for i in mentioned_ids(reply):
        if not 1 <= i <= n:
            bad.append(i)
        elif i in seen:
            dup.append(i)
        else:
            seen.append(i)
    missing = [i for i in range(1, n + 1) if i not in seen]
    if not seen:
        return Permutation(list(range(n)), ok=n == 0, usable=False, duplicates=dup, out_of_range=bad,
                           missing=missing)
    order = [i - 1 for i in seen] + [i - 1 for i in missing]
    return Permutation(order, ok=not (dup or bad or missing), duplicates=dup, out_of_range=bad, missing=missing)
