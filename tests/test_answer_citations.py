from dataclasses import dataclass

import pytest

from assistant.answer.citations import check_citations, parse_citations
from assistant.answer.context import ContextItem
from assistant.types import Candidate


def _context(n: int) -> list[ContextItem]:
    # chunk ids deliberately unlike the source numbers, so a mix-up shows
    return [ContextItem(i, Candidate(100 + i * 7, i, f"kb/{i}.md", f"Doc {i}", "", "text", f"sha{i}", 5, 0.5, i),
                        "text", 5) for i in range(1, n + 1)]


@pytest.mark.parametrize("text, numbers", [
    ("Use ZooKeeper [1].", [(1,)]),
    ("Both work [1, 3].", [(1, 3)]),
    ("Both work [1,3] here.", [(1, 3)]),
    ("Adjacent [1][2].", [(1,), (2,)]),
    ("A range [1-3].", [(1, 2, 3)]),
    ("An en dash range [2–4].", [(2, 3, 4)]),
    ("用 etcd 实现【1】。", [(1,)]),
    ("多个来源【1，3】和【2、4】。", [(1, 3), (2, 4)]),
    ("全角方括号［2］。", [(2,)]),
    ("全角数字［２］。", [(2,)]),
    ("Prefixed [Source 2] and [sources 1, 3].", [(2,), (1, 3)]),
    ("来源前缀 [来源 2]。", [(2,)]),
    ("Footnote style[^1].", [(1,)]),
    ("Mixed [1, 2-3].", [(1, 2, 3)]),
])
def test_citation_forms(text, numbers):
    assert [c.numbers for c in parse_citations(text)] == numbers


@pytest.mark.parametrize("text", [
    "No citations at all.",
    "A link [the docs](http://x) and a list [a, b].",
    "Code `arr[1]` is indexing, not a citation.",
    "```python\nx = items[2]\n```\nStill none.",
    "Empty brackets [] and [ ].",
])
def test_things_that_are_not_citations(text):
    assert parse_citations(text) == []


def test_valid_citations_map_to_chunk_ids_in_first_use_order():
    ctx = _context(4)
    check = check_citations("Etcd [3]. ZooKeeper [1][3]. Both 【1，4】.", ctx)
    assert check.valid == [3, 1, 4]
    assert check.chunk_ids == [ctx[2].candidate.chunk_id, ctx[0].candidate.chunk_id, ctx[3].candidate.chunk_id]
    assert check.invalid == [] and not check.none
    assert check.to_dict()["markers"] == ["[3]", "[1]", "[3]", "【1，4】"]


def test_out_of_range_citations_are_flagged_not_kept():
    ctx = _context(3)
    check = check_citations("Real [2]. Invented [7]. Zero [0]. Range [3-5].", ctx)
    assert check.valid == [2, 3]
    assert check.invalid == [7, 0, 4, 5]
    assert check.chunk_ids == [ctx[1].candidate.chunk_id, ctx[2].candidate.chunk_id]
    d = check.to_dict()
    assert d["invalid"] == [7, 0, 4, 5] and d["n_sources"] == 3


def test_answer_with_no_valid_citation_is_reported_as_none():
    check = check_citations("Use ZooKeeper. Or etcd.", _context(2))
    assert check.none and check.valid == [] and check.chunk_ids == []
    only_bad = check_citations("Use ZooKeeper [9].", _context(2))
    assert only_bad.none and only_bad.invalid == [9]


def test_wide_ranges_are_not_expanded():
    # "[1990-2024]" is a year span, not 35 citations
    check = check_citations("Between [1990-2024].", _context(3))
    assert check.invalid == [1990, 2024] and check.valid == []
