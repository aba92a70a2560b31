"""The listwise reranker against fake completers (subclasses of the real Completer): every reply shape a model
produces, failures, and windows sliding over long lists."""
from __future__ import annotations

import hashlib
import re

import pytest

from assistant.models.completer import LLMError, TransientLLMError
from assistant.paths import resource_dir
from assistant.rerank.listwise import ListwiseReranker, windows
from assistant.types import Candidate
from tests.fakes import FakeCompleter

QUERY = "分布式锁，不使用 Redis"


def cands(n: int, gold: dict[int, int] | None = None) -> list[Candidate]:
    """n candidates with chunk ids 101.. ; gold maps a 1-based recall rank to a relevance grade in its text."""
    gold = gold or {}
    out = []
    for i in range(1, n + 1):
        text = f"passage {i} grade={gold.get(i, 0)} " + "about locks " * 5
        out.append(Candidate(chunk_id=100 + i, document_id=i, source=f"d{i}.md", title=f"Doc {i}", heading="",
                             text=text, content_sha256=hashlib.sha256(text.encode()).hexdigest(), tokens=20,
                             score=1 - i / 1000, rank=i))
    return out


def ids(result) -> list[int]:
    return [r.chunk_id - 100 for r in result.ranked]


class OracleCompleter(FakeCompleter):
    """Ranks the passages of each prompt by the grade written in their text, as a capable model would."""

    def complete(self, messages, **kw):
        blocks = re.findall(r"^\[(\d+)\] .*?\n.*?grade=(\d+)", messages[-1]["content"], re.M)
        best = sorted(blocks, key=lambda b: -int(b[1]))  # stable: equal grades keep their order
        self.replies.append(" > ".join(f"[{i}]" for i, _ in best))
        return super().complete(messages, **kw)


def test_perfect_reply_reorders_and_is_traced():
    fake = FakeCompleter(["[3] > [1] > [5] > [2] > [4]"])
    result = ListwiseReranker(fake).rerank(QUERY, cands(5))
    assert ids(result) == [3, 1, 5, 2, 4]
    assert [r.rank for r in result.ranked] == [1, 2, 3, 4, 5] and all(r.score is None for r in result.ranked)
    t = result.trace
    assert t.reranker == "llm" and t.model == "fake/llm" and t.parse_ok is True and t.fallback is None
    template = (resource_dir("prompts") / "listwise_rerank.md").read_bytes()
    assert t.prompt_sha == hashlib.sha256(template).hexdigest()
    (call,) = t.calls
    assert call["reply"] == "[3] > [1] > [5] > [2] > [4]" and call["window"] == [1, 5] and len(call["messages_sha"]) == 64
    sent = fake.calls[0]
    assert sent["purpose"] == "rerank" and sent["temperature"] == 0.0
    prompt = sent["messages"][-1]["content"]
    assert QUERY in prompt and "[5] Doc 5" in prompt and "[6]" not in prompt


@pytest.mark.parametrize("reply, order, ok", [
    ("[2] > [1] > [4] > [3]", [2, 1, 4, 3], True),                                 # shuffled, complete
    ("[2] > [2] > [4] > [4] > [1] > [3]", [2, 4, 1, 3], False),                    # duplicated
    ("[4] > [2]", [4, 2, 1, 3], False),                                            # missing, appended in order
    ("[9] > [0] > [3] > [12] > [1]", [3, 1, 2, 4], False),                         # out of range
    ("Sure. My ranking:\n\n[4] > [3] > [2] > [1]\n\nHope this helps!", [4, 3, 2, 1], True),  # prose around
    ("[4] > [3] > [2] > [1]\nPassage [4] fits best.", [4, 3, 2, 1], False),        # prose repeating an id
])
def test_imperfect_replies_are_repaired(reply, order, ok):
    result = ListwiseReranker(FakeCompleter([reply])).rerank(QUERY, cands(4))
    assert ids(result) == order
    assert result.trace.parse_ok is ok and result.trace.calls[0]["parse_ok"] is ok
    assert result.trace.fallback is None


@pytest.mark.parametrize("reply", ["", "   ", "I'm sorry, I can't rank these."])
def test_reply_without_an_order_leaves_the_window(reply):
    result = ListwiseReranker(FakeCompleter([reply])).rerank(QUERY, cands(4))
    assert ids(result) == [1, 2, 3, 4]
    assert result.trace.parse_ok is False
    assert any("no usable ranking" in n for n in result.trace.notes)
    assert result.trace.calls[0]["repairs"]["unusable"] is True


def test_transient_error_then_success_is_retried():
    fake = FakeCompleter([TransientLLMError("rate limited"), "[2] > [1] > [3]"])
    result = ListwiseReranker(fake, retry_wait=0).rerank(QUERY, cands(3))
    assert ids(result) == [2, 1, 3]
    assert len(fake.calls) == 2 and result.trace.calls[0]["attempts"] == 2
    assert result.trace.fallback is None and result.trace.parse_ok is True


@pytest.mark.parametrize("errors", [
    [TransientLLMError("timeout"), TransientLLMError("timeout")],   # retries spent
    [LLMError("model not found")],                                 # not worth a retry
    [RuntimeError("provider bug")],                                # anything else: still no crash
])
def test_persistent_failure_falls_back_to_previous_order(errors):
    fake = FakeCompleter(list(errors))
    result = ListwiseReranker(fake, retry_wait=0).rerank(QUERY, cands(4))
    assert ids(result) == [1, 2, 3, 4]
    assert len(fake.calls) == len(errors)
    t = result.trace
    assert t.fallback and "1 of 1 windows kept their previous order" in t.fallback
    assert type(errors[-1]).__name__ in t.calls[0]["error"] and t.parse_ok is None


def test_one_failed_window_keeps_its_order_and_the_others_rerank():
    # 30 candidates, window 20, stride 10: windows 11-30 then 1-20.
    fake = FakeCompleter([LLMError("down"), " > ".join(f"[{i}]" for i in range(20, 0, -1))])
    result = ListwiseReranker(fake, retry_wait=0).rerank(QUERY, cands(30))
    assert ids(result) == list(range(20, 0, -1)) + list(range(21, 31))
    assert result.trace.fallback.startswith("1 of 2 windows") and "passages 11-30" in result.trace.fallback
    assert result.trace.parse_ok is True


def test_windows_slide_from_the_bottom_up():
    assert windows(55, 20, 10) == [(35, 55), (25, 45), (15, 35), (5, 25), (0, 15)]
    assert windows(100, 20, 10)[0] == (80, 100) and len(windows(100, 20, 10)) == 9
    assert windows(20, 20, 10) == [(0, 20)] and windows(1, 20, 10) == [] and windows(0, 20, 10) == []
    assert windows(10, 4, 2) == [(6, 10), (4, 8), (2, 6), (0, 4)]


def test_relevant_passages_climb_from_the_bottom_of_55():
    # graded passages at recall ranks 54, 30 and 12 must all reach the top through the overlapping windows
    fake = OracleCompleter()
    result = ListwiseReranker(fake).rerank(QUERY, cands(55, {54: 3, 30: 2, 12: 1}))
    assert ids(result)[:3] == [54, 30, 12]
    assert sorted(ids(result)) == list(range(1, 56))
    assert len(fake.calls) == 5 and len(result.trace.calls) == 5
    assert [c["window"] for c in result.trace.calls] == [[36, 55], [26, 45], [16, 35], [6, 25], [1, 15]]
    assert all(c["parse_ok"] for c in result.trace.calls)
    for sent in fake.calls:
        assert len(re.findall(r"^\[\d+\] ", sent["messages"][-1]["content"], re.M)) <= 20


@pytest.mark.parametrize("window, stride, calls", [(20, 10, 5), (10, 5, 10), (30, 15, 3), (55, 10, 1)])
def test_window_configuration_sets_the_calls(window, stride, calls):
    fake = OracleCompleter()
    result = ListwiseReranker(fake, window=window, stride=stride).rerank(QUERY, cands(55, {55: 1}))
    assert len(fake.calls) == calls and ids(result)[0] == 55


def test_model_known_not_to_rank_is_flagged_but_runs():
    fake = FakeCompleter(["[2] > [1]"], model="local/qwen2.5-coder-1.5b", can_rank=False)
    result = ListwiseReranker(fake).rerank(QUERY, cands(2))
    assert ids(result) == [2, 1]
    assert any("known not to rank passages usefully" in n for n in result.trace.notes)


def test_top_k_long_passages_and_single_candidates():
    fake = FakeCompleter(["[3] > [2] > [1]"])
    long = cands(3)
    long[0] = long[0].with_(text="x" * 5000)
    reranker = ListwiseReranker(fake, passage_chars=100)
    result = reranker.rerank(QUERY, long, top_k=2)
    assert ids(result) == [3, 2]
    assert "x" * 100 in fake.calls[0]["messages"][-1]["content"]
    assert "x" * 101 not in fake.calls[0]["messages"][-1]["content"]
    single = reranker.rerank(QUERY, cands(1))
    assert ids(single) == [1] and single.trace.calls == [] and len(fake.calls) == 1
