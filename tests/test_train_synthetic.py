"""Synthetic questions through the Completer interface: language, filtering, storage and resume."""
import hashlib

import pytest

from assistant.db import trainstore
from assistant.ingest.loaders import LoadedDocument, Section
from assistant.ingest.pipeline import Ingestor
from assistant.models.completer import LLMError
from assistant.recall import Recaller
from assistant.train.data import language_of, stored_questions
from assistant.train.synthetic import generate_questions, parse_question
from tests.fakes import FakeCompleter

DOCS = [
    ("etcd lock", "etcd keeps the lock key attached to a lease that expires when the client stops renewing it."),
    ("Postgres advisory locks", "pg_advisory_lock takes a session level lock on a sixty four bit key."),
    ("Redis caching", "Cache aside with Redis: read through the cache and set a TTL on every key."),
    ("ZooKeeper 锁", "ZooKeeper 用临时顺序节点实现分布式锁，序号最小的客户端持有锁。"),
]


def ingest(db, embedder, settings, docs=DOCS):
    ingestor = Ingestor(db, embedder, settings)
    loaded = [LoadedDocument(f"{t}.md", t, hashlib.sha256(x.encode()).hexdigest(), [Section("", x)]) for t, x in docs]
    ingestor.ingest_documents(loaded, len(loaded))


def sample(db, n, seed=0):
    with db.connection() as conn:
        return trainstore.sample_chunks(conn, n, seed)


# A good question for each chunk: it shares the chunk's words, so recall (bag of words) finds it.
GOOD = {
    "etcd lock": "how does etcd expire a lock key when the client stops renewing the lease",
    "Postgres advisory locks": "what key size does pg_advisory_lock use for a session level lock",
    "Redis caching": "how to set a TTL on every key with cache aside in Redis",
    "ZooKeeper 锁": "ZooKeeper 如何用临时顺序节点实现分布式锁",
}


def test_parse_question_takes_the_first_line_without_labels():
    assert parse_question('Question: "How does etcd expire locks?"\nbecause...') == "How does etcd expire locks?"
    assert parse_question("1. 如何实现分布式锁？") == "如何实现分布式锁？"
    assert parse_question("   \n\n") is None
    assert parse_question("ok?") is None


def test_generation_keeps_good_questions_in_the_chunk_language_and_resumes(db, settings, fake_embedder):
    ingest(db, fake_embedder, settings)
    recaller = Recaller(db, fake_embedder)
    order = sample(db, 4)
    completer = FakeCompleter([GOOD[c.title] for c in order[:2]])
    first = generate_questions(db, completer, recaller, n=2, k=2)
    assert (first.asked, first.kept, first.existing) == (2, 2, 0)
    assert [c["purpose"] for c in completer.calls] == ["synthetic_question"] * 2
    # The prompt carries the chunk and asks for the chunk's language.
    for call, chunk in zip(completer.calls, order[:2]):
        content = call["messages"][0]["content"]
        assert chunk.text in content
        assert ("Simplified Chinese" if language_of(chunk.text) == "zh" else "English") in content

    # A second, larger run asks only about the chunks the first did not cover.
    completer2 = FakeCompleter([GOOD[c.title] for c in order[2:]])
    second = generate_questions(db, completer2, recaller, n=4, k=2)
    assert (second.asked, second.kept, second.existing) == (2, 2, 2)
    assert [c["messages"][0]["content"].count(ch.text) for c, ch in zip(completer2.calls, order[2:])] == [1, 1]
    assert generate_questions(db, FakeCompleter([]), recaller, n=4, k=2).asked == 0

    questions = stored_questions(db, ["synthetic"])
    assert sorted(q.text for q in questions) == sorted(GOOD.values())
    for q in questions:
        (chunk,) = [c for c in order if GOOD[c.title] == q.text]
        assert q.positives == (chunk.chunk_id,) and q.relevant_docs == {chunk.document_id}
        assert q.mine and q.kind == "synthetic"


def test_generation_drops_duplicates_unanswerable_wrong_language_and_junk(db, settings, fake_embedder):
    ingest(db, fake_embedder, settings)
    recaller = Recaller(db, fake_embedder)
    order = sample(db, 4)
    en = [c for c in order if language_of(c.text) == "en"]
    kept, dup, off = en
    # Another chunk's question: recall (top 1) brings that chunk, not the one it was written for.
    elsewhere = GOOD[dup.title]
    replies = {kept.chunk_id: GOOD[kept.title],
               dup.chunk_id: GOOD[kept.title].upper() + "?",  # the same question again, other case
               off.chunk_id: elsewhere}
    for c in order:
        replies.setdefault(c.chunk_id, "How do ephemeral sequential nodes give a distributed lock?")  # zh chunk
    replies = [replies[c.chunk_id] for c in order]
    report = generate_questions(db, FakeCompleter(replies), recaller, n=4, k=1)
    assert report.asked == 4 and report.kept == 1
    assert report.dropped == {"wrong_language": 1, "duplicate": 1, "not_in_recall": 1}
    with db.connection() as conn:
        assert trainstore.dropped_reasons(conn, "synthetic") == dict(report.dropped)
        assert trainstore.question_counts(conn) == {("synthetic", True): 1, ("synthetic", False): 3}
    assert len(stored_questions(db, ["synthetic"])) == 1
    # Dropped chunks count as done: a resumed run does not ask about them again.
    assert generate_questions(db, FakeCompleter([]), recaller, n=4, k=1).asked == 0


def test_an_llm_failure_keeps_what_was_stored(db, settings, fake_embedder):
    ingest(db, fake_embedder, settings)
    recaller = Recaller(db, fake_embedder)
    order = sample(db, 4)
    with pytest.raises(LLMError):
        generate_questions(db, FakeCompleter([GOOD[order[0].title], LLMError("server down")]), recaller, n=4, k=2)
    resumed = generate_questions(db, FakeCompleter([GOOD[c.title] for c in order[1:]]), recaller, n=4, k=2)
    assert (resumed.existing, resumed.asked, resumed.kept) == (1, 3, 3)
