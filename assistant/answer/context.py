"""Pack ranked chunks into the answer prompt: best-ranked first, numbered [1]..[k], within a token budget."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable, Sequence

from assistant.types import Candidate

MIN_TRUNCATED_TOKENS = 48
"""A cut chunk shorter than this tells the model too little to be worth its source number."""

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])|\n+")


@dataclass(frozen=True)
class ContextItem:
    index: int
    """1-based source number the answer cites as [index]."""
    candidate: Candidate
    text: str
    """The text given to the model (the chunk, or its head when cut to fit the budget)."""
    tokens: int
    truncated: bool = False

    @property
    def chunk_id(self) -> int:
        return self.candidate.chunk_id

    @property
    def title(self) -> str:
        return source_title(self.candidate)


def source_title(candidate: Candidate) -> str:
    """Document title plus the chunk's own (innermost) heading: 'Redis lock FAQ: Q4 re-entrant locks'."""
    title = candidate.title or PurePath(candidate.source).name
    inner = [h.strip() for h in (candidate.heading or "").split(" > ") if h.strip()]
    return f"{title}: {inner[-1]}" if inner and inner[-1] != title else title


def short_source(source: str) -> str:
    """The file and its folder: enough to find it, short enough not to crowd the prompt."""
    parts = PurePath(source).parts
    return "/".join(parts[-2:]) if len(parts) > 2 else source


def header(index: int, candidate: Candidate) -> str:
    """The line that introduces a source in the prompt (its cost counts against the budget too)."""
    return f"[{index}] {source_title(candidate)} ({short_source(candidate.source)})"


def pack_context(candidates: Sequence[Candidate], budget_tokens: int, max_items: int,
                 count_tokens: Callable[[str], int]) -> list[ContextItem]:
    """Take candidates in rank order until the budget or max_items is reached; cut or skip what does not fit."""
    items: list[ContextItem] = []
    seen_ids: set[int] = set()
    seen_text: set[str] = set()
    left = budget_tokens
    for cand in candidates:
        if len(items) >= max_items or left <= 0:
            break
        # Two chunks with one text would spend the budget twice on the same words.
        if cand.chunk_id in seen_ids or (cand.content_sha256 and cand.content_sha256 in seen_text):
            continue
        index = len(items) + 1
        room = left - count_tokens(header(index, cand))
        tokens = count_tokens(cand.text)
        if tokens <= room:
            items.append(ContextItem(index, cand, cand.text, tokens))
        elif room >= MIN_TRUNCATED_TOKENS or (not items and room > 0):
            text = truncate(cand.text, room, count_tokens)
            if not text:
                continue
            items.append(ContextItem(index, cand, text, count_tokens(text), truncated=True))
            break
        else:
            # Too little room for a useful head of this chunk; a shorter, lower-ranked one may still fit.
            continue
        seen_ids.add(cand.chunk_id)
        seen_text.add(cand.content_sha256)
        left = room - items[-1].tokens
    return items


def truncate(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """The longest head of text within budget tokens, cut at a sentence end when that keeps most of it."""
    if budget <= 0:
        return ""
    marker = " …"
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix (in characters) whose token count fits
        mid = (lo + hi + 1) // 2
        if count_tokens(text[:mid] + marker) <= budget:
            lo = mid
        else:
            hi = mid - 1
    head = text[:lo]
    if not head.strip():
        return ""
    ends = [m.start() for m in _SENTENCE_END.finditer(head) if m.start() > 0]
    if ends and ends[-1] >= len(head) // 2:
        head = head[: ends[-1]]
    return head.rstrip() + marker
