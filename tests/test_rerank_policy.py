"""The auto policy on a table of Chinese and English questions, each with the decision expected."""
from dataclasses import asdict

import pytest

from assistant.rerank.policy import decide, signals

ALL = ["none", "cross-encoder", "remote", "llm"]
CE = "cross-encoder"

# question, expected strategy with every reranker available and 20 candidates, expected signal kinds
TABLE = [
    # negation / exclusion forces reranking
    ("distributed locks that do not use Redis", CE, {"negation"}),
    ("不使用 Redis 的分布式锁", CE, {"negation"}),
    ("a lock service without ZooKeeper", CE, {"negation"}),
    ("locking strategies other than Redlock", CE, {"negation"}),
    ("除了 Redis 还有哪些分布式锁方案", CE, {"negation"}),
    ("有没有不依赖外部服务的锁", CE, {"negation"}),
    ("排除数据库方案，怎么实现互斥", CE, {"negation"}),
    ("why doesn't my lock get released after a crash", CE, {"negation"}),
    ("use a lease instead of a mutex, how?", CE, {"negation"}),
    ("非阻塞的加锁方式", CE, {"negation"}),
    ("which lock services work when we cannot run Redis", CE, {"negation"}),
    # several conditions at once
    ("a lock that is reentrant and survives a client crash", CE, {"multi"}),
    ("既要可重入又要自动续期的锁", CE, {"multi"}),
    ("支持重入、自动续期、公平排队的锁", CE, {"multi"}),
    ("I need fencing tokens as well as automatic expiry", CE, {"multi"}),
    # comparison / which is best
    ("Redis or ZooKeeper: which one should I use for locks?", CE, {"compare"}),
    ("compare etcd leases with Consul sessions", CE, {"compare"}),
    ("what is the best lock for a Postgres-backed app", CE, {"compare"}),
    ("Redis 和 ZooKeeper 哪个更适合做分布式锁", CE, {"compare"}),
    ("乐观锁和悲观锁的区别", CE, {"compare"}),
    ("用 etcd 还是 Consul 做选主", CE, {"compare"}),
    # simple lookups skip reranking
    ("What is Redlock?", "none", set()),
    ("what does SKIP LOCKED do", "none", set()),
    ("什么是栅栏令牌", "none", set()),
    ("Redlock 是什么", "none", set()),
    # ordinary questions: the cheap cross-encoder if there is one
    ("how does the Redisson watchdog renew a lock", CE, set()),
    ("Redis 锁的过期时间怎么设置", CE, set()),
    # words that only look like signals
    ("这个锁为什么非常快，它怎么保证互斥", CE, set()),          # 非常 = very
    ("是不是所有分布式锁都需要设置超时时间", CE, set()),     # A-not-A question, no negation
]


@pytest.mark.parametrize("question, strategy, kinds", TABLE, ids=[q for q, _, _ in TABLE])
def test_decisions_table(question, strategy, kinds):
    d = decide(question, available=ALL, n_candidates=20)
    assert d.strategy == strategy, d
    assert {s.split(":")[0] for s in d.signals} - {"lookup"} == kinds
    assert d.wanted is (strategy != "none")
    assert d.reason


def test_table_is_big_and_bilingual():
    zh = [q for q, _, _ in TABLE if any("\u4e00" <= ch <= "\u9fff" for ch in q)]
    assert len(TABLE) >= 20 and len(zh) >= 10 and len(TABLE) - len(zh) >= 10


def test_signal_text_names_what_was_seen():
    assert signals("不使用 Redis 的分布式锁") == ["negation:不使用"]
    assert signals("locks without Redis") == ["negation:without"]
    d = decide("不使用 Redis 的分布式锁", available=ALL, n_candidates=20)
    assert "不使用" in d.reason and "cross-encoder" in d.reason


@pytest.mark.parametrize("available, expected", [
    (["none", "cross-encoder", "remote", "llm"], "cross-encoder"),
    (["none", "remote", "llm"], "remote"),
    (["none", "llm"], "llm"),
    (["none"], "none"),
])
def test_forced_reranking_takes_the_preferred_available(available, expected):
    d = decide("分布式锁，但不要用 Redis", available=available, n_candidates=20)
    assert d.strategy == expected and d.wanted is True
    if expected == "none":
        assert "no reranker is available" in d.reason and "assistant reranker train" in d.reason


def test_ordinary_question_never_pays_for_the_llm():
    d = decide("how does the Redisson watchdog renew a lock", available=["none", "llm"], n_candidates=20)
    assert d.strategy == "none" and "LLM" in d.reason


def test_tiny_candidate_sets():
    assert decide("locks without Redis", available=ALL, n_candidates=1).strategy == "none"
    assert decide("locks without Redis", available=ALL, n_candidates=0).strategy == "none"
    assert decide("how does the watchdog renew a lock", available=ALL, n_candidates=3).strategy == "none"
    # a constraint still forces reranking of a few candidates
    assert decide("locks without Redis", available=ALL, n_candidates=3).strategy == CE


def test_decision_is_plain_data_for_the_run_log():
    d = asdict(decide("Redis 和 etcd 哪个好", available=["none"], n_candidates=10))
    assert set(d) >= {"strategy", "reason", "signals"} and d["available"] == ["none"]
