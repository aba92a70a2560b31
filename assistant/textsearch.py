"""Text for Postgres full text: Latin words for the 'english' parser, CJK segmented by jieba for 'simple'.

With the 'simple' configuration alone a run of Chinese characters becomes one token and never matches a query,
so Chinese is cut into words here, at ingest and at query time alike.
"""
from __future__ import annotations

import logging
import re

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
# Function words that would match nearly every Chinese chunk.
_ZH_STOP = set("的 了 是 在 和 与 及 或 有 我 你 他 她 它 们 这 那 之 也 就 都 而 被 把 让 对 为 以 于 从 到 吗 呢 吧 啊 哪些 什么 怎么 如何 一个 一种 可以 使用".split())
_jieba = None


def _cut(text: str) -> list[str]:
    global _jieba
    if _jieba is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        _jieba = jieba
    return [w for w in _jieba.lcut(text) if w.strip()]


def cjk_tokens(text: str) -> list[str]:
    return [w for run in _CJK_RUN.findall(text) for w in _cut(run)]


def index_text(text: str) -> tuple[str, str]:
    """(latin text, space-joined CJK words) for to_tsvector('english', ...) || to_tsvector('simple', ...)."""
    return _CJK_RUN.sub(" ", text), " ".join(cjk_tokens(text))


def query_terms(question: str) -> tuple[list[str], list[str]]:
    """(latin words, CJK words) of a question, for an OR query: recall wants any matching term, ranked."""
    latin = [w.lower() for w in _WORD.findall(_CJK_RUN.sub(" ", question))]
    cjk = [w for w in cjk_tokens(question) if w not in _ZH_STOP and len(w) > 0]
    return list(dict.fromkeys(latin)), list(dict.fromkeys(cjk))
