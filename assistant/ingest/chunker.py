"""Sections -> chunks of about N model tokens, cut at sentence ends (English and CJK), with overlap."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

# Sentence ends: Latin punctuation followed by space, CJK full stops (no space follows them), or a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9\u4e00-\u9fff])|(?<=[。！？；!?])|\n+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# CJK text and its full-width punctuation join without spaces.
_CJK_OR_PUNCT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class Chunk:
    ord: int
    heading: str
    text: str
    tokens: int


def split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if p]


def _split_long(sentence: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """A sentence longer than the budget is cut at clause marks, then words, then characters."""
    if count(sentence) <= budget:
        return [sentence]
    for pattern in (r"(?<=[,;:，、：])\s*", r"\s+"):
        pieces = [p for p in re.split(pattern, sentence) if p]
        if len(pieces) > 1:
            out: list[str] = []
            buf = ""
            for piece in pieces:
                joiner = "" if (_CJK.search(piece[:1]) or not buf) else " "
                cand = buf + joiner + piece
                if buf and count(cand) > budget:
                    out.extend(_split_long(buf, budget, count))
                    buf = piece
                else:
                    buf = cand
            if buf:
                out.extend(_split_long(buf, budget, count))
            return out
    # One unbroken run (e.g. long Chinese text without punctuation): halve by characters.
    mid = len(sentence) // 2
    return _split_long(sentence[:mid], budget, count) + _split_long(sentence[mid:], budget, count)


def _join(parts: Iterable[str]) -> str:
    out = ""
    for p in parts:
        if out and not (_CJK_OR_PUNCT.match(out[-1]) and _CJK_OR_PUNCT.match(p[:1])):
            out += " "
        out += p
    return out


def chunk_sections(sections, count: Callable[[str], int], size: int = 200, overlap: int = 40) -> list[Chunk]:
    """Pack sentences into chunks of at most `size` tokens; carry up to `overlap` tokens of sentences forward.

    A chunk never spans two headings, so each chunk's heading says where it came from.
    """
    if overlap >= size:
        raise ValueError("chunk overlap must be smaller than the chunk size")
    chunks: list[Chunk] = []
    for section in sections:
        sentences: list[tuple[str, int]] = []
        for s in split_sentences(section.text):
            for piece in _split_long(s, size, count):
                sentences.append((piece, count(piece)))
        window: list[tuple[str, int]] = []
        total = 0
        fresh = False  # whether the window holds a sentence not yet emitted
        for sent, n in sentences:
            if window and total + n > size:
                chunks.append(Chunk(len(chunks), section.heading, _join(s for s, _ in window), total))
                # keep the tail as overlap
                keep: list[tuple[str, int]] = []
                kept = 0
                for s, k in reversed(window):
                    if kept + k > overlap or kept + k + n > size:
                        break
                    keep.insert(0, (s, k))
                    kept += k
                window, total = keep, kept
                fresh = False
            window.append((sent, n))
            total += n
            fresh = True
        if window and fresh:
            chunks.append(Chunk(len(chunks), section.heading, _join(s for s, _ in window), total))
    return chunks
