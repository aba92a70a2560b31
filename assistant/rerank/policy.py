"""The `auto` policy: per question, is reranking worth its cost, and with which available reranker?

Recall ranks by topic; it cannot see that "locks that do not use Redis" excludes the Redis documents it ranks
first. So negation/exclusion, several conditions at once, and comparison or "which is best" questions force
reranking; simple lookups and tiny candidate sets skip it. Signals are read in Chinese and English.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

PREFERENCE = ("cross-encoder", "remote", "llm")
"""Forced reranking takes the first available: pointwise scorers are fast and deterministic, the LLM is neither."""
POINTWISE = ("cross-encoder", "remote")
TINY = 3
"""At most this many candidates: reordering cannot change much of what reaches the answer."""

_EN_NEG = re.compile(
    r"\b(?:not|cannot|without|except|excluding|exclude[sd]?|other than|instead of|rather than|apart from|aside from|no|"
    r"never|none of|neither|nor|avoid(?:ing|s)?|non-\w+)\b|n't\b", re.I)
_EN_MULTI = re.compile(
    r"\b(?:both|as well as|at the same time|and also|while also|but also|that also|in addition to|together with|"
    r"along with)\b|\b(?:that|which|with|where|supports?|requires?|must|should|needs? to)\b.*?(?:\band\b|,)", re.I)
_EN_COMPARE = re.compile(
    r"\b(?:compare[sd]?|comparing|comparison|versus|vs\.?|differences?|differ|better|best|worst|prefer(?:able)?|"
    r"recommend(?:ed)?|pros and cons|trade-?offs?|faster|fastest|safer|safest|more reliable|most reliable|"
    r"advantages?|disadvantages?|which (?:one|should|would|to choose|to use|to pick)|should i (?:use|choose|pick)|"
    r"choose between)\b", re.I)
_EN_LOOKUP = re.compile(r"^(?:what(?: is|'s| are| does)|define|definition of|meaning of|who|when|where|how many)\b",
                        re.I)

# Words whose 不/非/无/既 is no negation or condition: very, different, but, not only, constantly, regardless...
_ZH_MASK = ("非常", "不同", "不过", "不仅", "不断", "不少", "不错", "不久", "不管", "无论", "无疑", "既然", "除非")
_ZH_A_NOT_A = re.compile(r"(\w)[不没]\1")  # 是不是, 能不能, 有没有: questions, not negations
_ZH_NEG = ("不使用", "不依赖", "不需要", "不要", "不用", "不含", "不包括", "不是", "无需", "无须", "没有", "除了",
           "排除", "以外", "之外", "而不是", "避免", "别用", "并非", "非", "不", "没", "无")
_ZH_MULTI = ("同时", "并且", "而且", "既", "还要", "还能", "还需要", "也要", "也能", "以及", "兼顾", "、")
_ZH_COMPARE = ("比较", "对比", "区别", "差异", "不同", "哪个", "哪种", "哪一个", "哪一种", "更好", "更适合",
               "更快", "更安全", "更可靠", "最好", "最佳", "最适合", "最快", "最安全", "优缺点", "优劣", "利弊", "还是",
               "推荐", "选哪", "怎么选", "如何选择", "相比")
_ZH_LOOKUP = ("什么是", "是什么", "是指", "定义", "的含义", "什么意思", "多少", "谁", "何时", "哪里", "哪年")


@dataclass(frozen=True)
class Decision:
    strategy: str
    """The reranker to run ('none' to keep recall order)."""
    reason: str
    """One sentence for people: why this strategy."""
    signals: list[str] = field(default_factory=list)
    """What the question showed, as 'kind:matched text' (negation, multi, compare, lookup, tiny)."""
    wanted: bool = False
    """Whether reranking was judged worth it (it may still be 'none' when nothing is available)."""
    available: list[str] = field(default_factory=list)


def _zh_terms(text: str, terms: tuple[str, ...]) -> list[str]:
    found = []
    for term in sorted(terms, key=len, reverse=True):
        if term in text:
            found.append(term)
            text = text.replace(term, "\u2027")  # longer matches hide their parts (不使用 is not also 不)
    return found


def _short(match: str) -> str:
    words = match.split()
    return match.strip() if len(words) <= 3 else f"{words[0]} … {words[-1]}"


def signals(question: str) -> list[str]:
    """Constraint signals of a question: 'negation:..', 'multi:..', 'compare:..' (each kind once)."""
    text = unicodedata.normalize("NFKC", question)
    zh = text
    for word in _ZH_MASK:
        if word != "不同":  # 不同 is no negation, but it is a comparison
            zh = zh.replace(word, "\u2027")
    zh_neg = _ZH_A_NOT_A.sub("\u2027", zh.replace("不同", "\u2027"))
    out = []
    for kind, en, zh_terms, zh_text in (("negation", _EN_NEG, _ZH_NEG, zh_neg), ("multi", _EN_MULTI, _ZH_MULTI, zh),
                                        ("compare", _EN_COMPARE, _ZH_COMPARE, zh)):
        hits = [_short(m.group(0)) for m in en.finditer(text)][:1] or _zh_terms(zh_text, zh_terms)[:1]
        out += [f"{kind}:{h}" for h in hits]
    return out


def is_lookup(question: str) -> bool:
    """A short definition/fact question ('what is X', '什么是 X')."""
    text = unicodedata.normalize("NFKC", question).strip()
    if _EN_LOOKUP.search(text) and len(text.split()) <= 8:
        return True
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk > 0 and len(text) <= 20 and any(t in text for t in _ZH_LOOKUP)


def _first(options: tuple[str, ...], available: list[str]) -> str | None:
    return next((s for s in options if s in available), None)


def decide(question: str, *, available: list[str], n_candidates: int,
           constrained_only: Sequence[str] = ()) -> Decision:
    """Choose a strategy for this question among the available ones, with the reason and the signals seen.

    constrained_only: available rerankers measured to help only constrained questions (their card says so).
    """
    avail = list(available)
    if n_candidates < 2:
        return Decision("none", f"only {n_candidates} candidate(s): nothing to reorder", ["tiny"], False, avail)
    found = signals(question)
    if found:
        what = ", ".join(f"{s.split(':', 1)[0]} ('{s.split(':', 1)[1]}')" for s in found)
        choice = _first(PREFERENCE, avail)
        if choice is None:
            return Decision("none", f"reranking wanted for {what}, but no reranker is available: set up a "
                            "cross-encoder (`assistant reranker train`, or ASSISTANT_CROSS_ENCODER) or a capable "
                            "listwise model (ASSISTANT_LISTWISE_MODEL)", found, True, avail)
        return Decision(choice, f"{what}: recall ranks by topic and misses such constraints, so rerank with "
                        f"{choice}", found, True, avail)
    if is_lookup(question):
        return Decision("none", "a simple lookup: recall order is good enough", ["lookup"], False, avail)
    if n_candidates <= TINY:
        return Decision("none", f"only {n_candidates} candidates: reranking would change little", ["tiny"], False,
                        avail)
    choice = _first(POINTWISE, [a for a in avail if a not in constrained_only])
    if choice is not None:
        return Decision(choice, f"no constraint in the question, but {choice} is cheap: use it", [], True, avail)
    if any(a in constrained_only for a in avail):
        return Decision("none", "no negation, condition or comparison in the question: recall order is kept (the "
                        "cross-encoder was measured to help constrained questions only)", [], False, avail)
    return Decision("none", "no negation, condition or comparison in the question: recall order is kept (listwise "
                    "reranking costs several LLM calls and is kept for constrained questions)", [], False, avail)
