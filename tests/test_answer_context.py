from assistant.answer.context import MIN_TRUNCATED_TOKENS, header, pack_context, truncate
from assistant.types import Candidate


def words(text: str) -> int:
    return len(text.split())


def cand(i: int, n_words: int, text: str | None = None, sha: str | None = None) -> Candidate:
    body = text or " ".join(f"w{i}x{j}." if j % 10 == 9 else f"w{i}x{j}" for j in range(n_words))
    return Candidate(chunk_id=1000 + i, document_id=i, source=f"kb/doc{i}.md", title=f"Doc {i}", heading="",
                     text=body, content_sha256=sha or f"sha{i}", tokens=n_words, score=1.0 / i, rank=i)


def spent(items) -> int:
    return sum(it.tokens + words(header(it.index, it.candidate)) for it in items)


def test_best_ranked_first_numbered_from_one_within_budget():
    cands = [cand(i, 50) for i in range(1, 8)]
    items = pack_context(cands, budget_tokens=200, max_items=10, count_tokens=words)
    assert [it.index for it in items] == list(range(1, len(items) + 1))
    assert [it.candidate.chunk_id for it in items] == [c.chunk_id for c in cands[: len(items)]]
    assert spent(items) <= 200
    assert len(items) >= 3  # three whole chunks fit, the fourth only cut


def test_max_items_caps_the_context():
    items = pack_context([cand(i, 10) for i in range(1, 9)], 10_000, max_items=3, count_tokens=words)
    assert [it.candidate.chunk_id for it in items] == [1001, 1002, 1003]
    assert not any(it.truncated for it in items)


def test_last_chunk_is_cut_at_a_sentence_when_there_is_room():
    items = pack_context([cand(1, 40), cand(2, 200)], budget_tokens=150, max_items=5, count_tokens=words)
    assert len(items) == 2
    last = items[1]
    assert last.truncated and last.text.endswith("…")
    assert last.text.rstrip(" …").endswith(".")  # cut after a sentence, not mid-word
    assert last.tokens <= 150 - 40 - 2 * words(header(1, items[0].candidate))
    assert cands_text_prefix(last)


def cands_text_prefix(item) -> bool:
    return item.candidate.text.startswith(item.text.rstrip(" …").rstrip())


def test_chunk_is_skipped_when_too_little_room_but_a_shorter_one_fits():
    big, small = cand(2, 300), cand(3, 10)
    room_after_first = MIN_TRUNCATED_TOKENS - 10
    budget = 60 + words(header(1, cand(1, 60))) + room_after_first
    items = pack_context([cand(1, 60), big, small], budget, 5, words)
    assert [it.candidate.chunk_id for it in items] == [1001, 1003]
    assert [it.index for it in items] == [1, 2]
    assert spent(items) <= budget


def test_first_chunk_larger_than_budget_is_cut_not_dropped():
    items = pack_context([cand(1, 500)], budget_tokens=80, max_items=5, count_tokens=words)
    assert len(items) == 1 and items[0].truncated and spent(items) <= 80


def test_same_text_twice_goes_in_once():
    a = cand(1, 20, sha="same")
    b = cand(2, 20, text=a.text, sha="same")
    c = cand(3, 20)
    items = pack_context([a, b, c, a], 1000, 5, words)
    assert [it.candidate.chunk_id for it in items] == [1001, 1003]


def test_nothing_recalled_gives_empty_context():
    assert pack_context([], 1000, 5, words) == []


def test_truncate_chinese_text_at_sentence_end():
    def chars(t: str) -> int:
        return len(t)
    text = "第一句话说明了锁。第二句话解释租约！第三句话很长很长很长很长很长很长很长。"
    cut = truncate(text, 24, chars)
    assert chars(cut) <= 24 and cut.endswith("…")
    assert cut.rstrip(" …").endswith("！")
