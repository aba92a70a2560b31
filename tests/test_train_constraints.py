"""Constraint questions from near-miss chunk pairs: phrasing in both languages, roles, storage and resume."""
import hashlib

from assistant.db import trainstore
from assistant.db.trainstore import ChunkRow
from assistant.ingest.loaders import LoadedDocument, Section
from assistant.ingest.pipeline import Ingestor
from assistant.train.constraints import build_constraint_questions, make_questions
from assistant.train.data import stored_questions

ETCD = ChunkRow(1, 1, "a", "etcd lock", "", "etcd distributed lock: the lock key is attached to a lease that expires "
                "when the client dies. A distributed lock in etcd uses revisions.")
REDIS = ChunkRow(2, 2, "b", "Redis SET NX lock", "", "Redis distributed lock: acquire the lock with SET key token NX "
                 "PX and release it with a Lua script in Redis.")
ETCD_ZH = ChunkRow(3, 3, "c", "etcd 分布式锁", "", "etcd 分布式锁：锁的键绑定在租约上，客户端退出后租约过期。")
REDIS_ZH = ChunkRow(4, 4, "d", "Redis 分布式锁", "", "Redis 分布式锁：使用 SET NX 加锁，用 Lua 脚本释放 Redis 锁。")


def test_english_pair_excludes_the_name_only_the_negative_has():
    assert make_questions(ETCD, REDIS) == ("distributed lock without Redis", "distributed lock with Redis")
    assert make_questions(REDIS, ETCD) == ("distributed lock without etcd", "distributed lock with etcd")


def test_chinese_pair_uses_the_chinese_template():
    assert make_questions(ETCD_ZH, REDIS_ZH) == ("不使用 Redis 的分布式锁", "使用 Redis 的分布式锁")


def test_no_question_across_languages_or_without_a_distinguishing_name():
    assert make_questions(ETCD, REDIS_ZH) is None
    same = ChunkRow(5, 5, "e", "etcd lock", "", ETCD.text + " Revisions order the waiters.")
    assert make_questions(ETCD, same) is None  # nothing the other names that the positive lacks


def test_generic_words_are_not_taken_for_the_topic_or_the_excluded_thing():
    # Two chunks of the demo knowledge base. Taking heading words for names gave 「不使用规范的锁分布式」: 规范 is a
    # generic word from the negative's heading, and 锁 + 分布式 were glued in the wrong order.
    pos = ChunkRow(1, 1, "a", "用数据库实现分布式锁：悲观锁、乐观锁与 advisory lock",
                   "用数据库实现分布式锁：悲观锁、乐观锁与 advisory lock > 共同局限",
                   "锁只存在于主库，主从切换后全部丢失；数据库压力大时加锁延迟升高，不适合高频细粒度加锁。")
    neg = ChunkRow(2, 2, "b", "Redisson 分布式锁使用规范", "Redisson 分布式锁使用规范 > 规范要求",
                   "- 锁的 key 必须带业务前缀，禁止使用全局锁名。 - 锁内禁止调用外部 HTTP 接口等耗时操作。 - 涉及资金等正确性"
                   "要求高的场景，必须同时使用数据库乐观锁（version 字段）兜底。")
    assert make_questions(pos, neg)[0] == "不使用 HTTP 的分布式锁"
    # "Owner" starts a metadata line; it is not part of what the two chunks are about.
    pos = ChunkRow(3, 3, "c", "Redisson RLock and the Lock Watchdog", "", "Owner: java-platform · Applies to: "
                   "Redisson 3.x. Most services that need a Redis lock use Redisson. The watchdog renews the lock.")
    neg = ChunkRow(4, 4, "d", "Consul Locks: Sessions and Lock Delay", "", "Owner: platform · Applies to: Consul 1.x. "
                   "A Consul lock is a KV acquire bound to a session; lock delay blocks re-acquire.")
    assert make_questions(pos, neg)[0] == "Lock without Consul"


DOCS = [
    ("etcd lock", ETCD.text),
    ("Redis SET NX lock", REDIS.text),
    ("Sourdough starter", "Feed the sourdough starter flour and water every day and keep it warm."),
]


def test_pairs_are_stored_with_positive_and_hard_negative_and_not_rebuilt(db, settings, fake_embedder):
    ingestor = Ingestor(db, fake_embedder, settings)
    docs = [LoadedDocument(f"{t}.md", t, hashlib.sha256(x.encode()).hexdigest(), [Section("", x)]) for t, x in DOCS]
    ingestor.ingest_documents(docs, len(docs))
    report = build_constraint_questions(db, n=1, min_similarity=0.2)
    assert report.made == 1
    questions = {q.kind: q for q in stored_questions(db, ["constraint", "constraint_with"])}
    assert set(questions) == {"constraint", "constraint_with"}
    neg, mirror = questions["constraint"], questions["constraint_with"]
    with db.connection() as conn:
        rows = {r.chunk_id: r for r in trainstore.sample_chunks(conn, 10, 0)}
    pos_chunk, neg_chunk = rows[neg.positives[0]], rows[neg.negatives[0]]
    assert {pos_chunk.title, neg_chunk.title} == {"etcd lock", "Redis SET NX lock"}
    excluded = neg.text.split(" without ")[1]
    assert neg.text.startswith("distributed lock without ")
    assert excluded in neg_chunk.text and excluded.lower() not in pos_chunk.text.lower()
    # The mirror question swaps the roles, so "prefer chunks lacking rare words" is not a shortcut.
    assert mirror.text == f"distributed lock with {excluded}"
    assert mirror.positives == neg.negatives and mirror.negatives == neg.positives
    assert not neg.mine and neg.relevant_docs == {pos_chunk.document_id}
    assert neg.group == mirror.group  # a pair and its mirror stay on one side of the held-out split

    again = build_constraint_questions(db, n=1, min_similarity=0.2)
    assert (again.made, again.existing) == (0, 1)
    assert len(stored_questions(db, ["constraint", "constraint_with"])) == 2
