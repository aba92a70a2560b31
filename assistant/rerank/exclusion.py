"""What a question rules out: "locks without Redis" -> ["Redis"], 「除了 Redis 之外的锁」 -> ["Redis"].

A cross-encoder reads "without Redis" as one more mention of Redis: the passage about Redis shares the most words
with the question and wins. What the model does well is say how much a passage is *about* something. So the
reranker asks it twice, once for the question and once for the excluded thing alone, and ranks down passages
that are about what the question excludes. A passage that only mentions Redis in passing ("unlike Redis, etcd
...") stays, which a word filter could not tell apart (issue 15: such a filter lost 8 points on ExcluIR).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Sequence

# English: a marker, optional filler ("mentioning any information about"), then the excluded phrase up to the end
# of its clause. Written from the forms ExcluIR's train questions and everyday English use.
_EN_VERB = (r"(?:mention(?:ing)?|includ(?:e|ing)|introduc(?:e|ing)|discuss(?:ing)?|consider(?:ing)?|"
            r"tak(?:e|ing) (?:\w+ )?into account|refer(?:ring)? to|involv(?:e|ing)|touch(?:ing)? on|bring(?:ing)? up|"
            r"talk(?:ing)? about|describ(?:e|ing)|provid(?:e|ing)|cover(?:ing)?|count(?:ing)?|"
            r"us(?:e|ing)|rel(?:y|ying) on|depend(?:ing)? on|requir(?:e|ing)|need(?:ing)?|run(?:ning)?|"
            r"based on|built on|going through)")
_EN_FILLER = (r"(?:(?:any|the|a|an|its|his|her|their|specific|detailed?|more|further|other)\s+)*"
              r"(?:(?:information|info|details?|description|mentions?|references?|discussion|involvement|connections?|"
              r"relationships?|ties|links?|roles?|works?|contributions?|anything|things?|aspects?|parts?)\s+)?"
              r"(?:(?:about|of|on|regarding|concerning|related to|relating to|in|with|from|to)\s+)?")
_EN_MARKERS = [
    rf"\bwithout (?:(?:any|ever|also)\s+)?(?:{_EN_VERB}\s+)?",
    r"\b(?:excluding|exclude|except(?: for)?|aside from|apart from|other than|besides|beside|outside of|"
    r"not including|leaving out|leave out|omitting|ignoring|instead of|rather than|in addition to|beyond)\s+",
    rf"\b(?:do|does|did|should|must|will|would|can|could)(?: not|n't)\s+(?:{_EN_VERB}\s+)",
    rf"\b(?:cannot|can't|won't|not allowed to|unable to)\s+(?:{_EN_VERB}\s+)",
    rf"\bnot (?:to |be )?(?:{_EN_VERB}\s+)",
    r"\b(?:not|never|no longer) (?:connected|related|tied|linked) (?:to|with)\s+",
    r"\bnon-(?=\w)",
]
_EN_MARKER = re.compile("|".join(f"(?:{m})" for m in _EN_MARKERS), re.I)
_EN_FILL = re.compile(_EN_FILLER, re.I)
# "if Redis is not an option", "when Redis is off the table": the excluded thing comes before the marker.
_EN_BEFORE = re.compile(r"\b(?:if|when|where|since|as|because)\s+(?:we\s+(?:cannot|can't|don't|do not)\s+"
                        r"(?:use|run|have)\s+)?(?P<x>[\w.+#-]+(?:\s+[\w.+#-]+){0,3}?)\s+(?:is|are)\s+"
                        r"(?:not an option|not available|off the table|out|forbidden|banned|not allowed)\b", re.I)
_EN_END = re.compile(
    r"\s*(?:[?,;:!()]|(?<!\b[A-Z])(?<!Jr|Sr|Dr|St|Mr|Ms|vs)\.(?=\s|$)|\bbut\b"  # a period, not an initial
    r"|\band (?:what|who|which|how|where|when|please|focus|only|instead|just)\b|\bplease\b|\bwhat\b|\bwho\b"
    r"|\bwhich\b|\bhow\b|\bthat (?:is|are)\b|\bfor (?:distributed|the)\b|\bto (?:coordinate|implement|build)\b|$)",
    re.I)
_EN_STOP = {"it", "that", "this", "them", "him", "her", "any", "anything", "the", "a", "an", "mentioning",
            "information", "details", "a doubt", "fail", "problems", "issues", "question", "delay", "limit", "end"}

# Chinese: the excluded thing sits between a marker and 的/之外/以外/，.
_ZH = re.compile(
    r"(?:不使用|不用|不依赖|不依靠|不基于|不借助|不通过|不靠|不涉及|不包括|不包含|不含|不考虑|不提|不要|不能用|不能使用|"
    r"无法使用|禁用|排除|"
    r"(?<![拆铲废删清消解免切剔去摘])(?:除了|除去|除(?=[^，,。？?]{1,24}?(?:之外|以外))))"  # not 废除, 拆除
    r"\s*(?P<x>[^，,。？?！!、的之以外及和与]{1,24}?)\s*"
    r"(?:之外|以外|外|的|，|,|。|？|\?|！|、|$|还|也|来|做|实现|怎么|如何|有)")
_ZH_STOP = {"了", "此", "这些", "那些", "它", "他们", "这个", "那个"}


def _clean(phrase: str) -> str:
    phrase = phrase.strip(" \t'\"‘’“”「」《》")
    return re.sub(r"\s+", " ", phrase)


def _en(text: str) -> list[str]:
    out = [_clean(m.group("x")) for m in _EN_BEFORE.finditer(text)]
    for m in _EN_MARKER.finditer(text):
        rest = text[m.end():]
        fill = _EN_FILL.match(rest)
        rest = rest[fill.end():] if fill else rest
        end = _EN_END.search(rest)
        phrase = _clean(rest[: end.start()] if end else rest)
        words = phrase.split()
        if words and len(words) <= 12 and phrase.lower() not in _EN_STOP:
            out.append(phrase)
    return out


def _zh(text: str) -> list[str]:
    out = []
    for m in _ZH.finditer(text):
        phrase = _clean(m.group("x"))
        if phrase and phrase not in _ZH_STOP:
            out.append(phrase)
    return out


def excluded(question: str) -> list[str]:
    """The things the question rules out, in the order they appear (empty when it rules nothing out)."""
    text = unicodedata.normalize("NFKC", question)
    seen: list[str] = []
    for phrase in _en(text) + _zh(text):
        if phrase.lower() not in {s.lower() for s in seen}:
            seen.append(phrase)
    return seen


def rank_down(scores: Sequence[float], about: Sequence[Sequence[float]], weight: float) -> list[float]:
    """scores minus weight * how far above this list's average each passage is about an excluded thing.

    about: per excluded thing, the reranker's raw score of (thing, passage) for every passage. Standard scores
    within the list make one weight work for any model's score scale; only passages more about the excluded thing
    than the list's average lose anything, so a list where nothing is about it keeps its order.
    """
    from assistant.rerank.cache import zscores

    if not about:
        return list(scores)
    most = [max(col) for col in zip(*about)]
    return [s - weight * max(0.0, z) for s, z in zip(scores, zscores(most))]
