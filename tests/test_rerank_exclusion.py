"""Reading what a question rules out, and ranking down the passages about it."""
from __future__ import annotations

import hashlib

import pytest

from assistant.rerank.base import Trace
from assistant.rerank.cache import rank_pointwise
from assistant.rerank.exclusion import excluded, rank_down
from assistant.types import Candidate


@pytest.mark.parametrize("question, things", [
    ("message queues that do not use Kafka", ["Kafka"]),
    ("How do I cache sessions without Memcached?", ["Memcached"]),
    ("What are the film works of Barbet Schroeder, without including any information about Pablo Trapero?",
     ["Pablo Trapero"]),
    ("In which conference has Don Maestri been named coach of the year, except for the Summit League?",
     ["Summit League"]),
    ("Excluding the actor Richard Münch, who else had played Alfred Jodl?", ["actor Richard Münch"]),
    ("Who else, except for Ben T. Elliott, wrote speeches for Reagan?", ["Ben T. Elliott"]),
    ("Which animated feature did Carmen Twillie sing for, other than \"Cats Don't Dance\"?", ["Cats Don't Dance"]),
    ("What can we use for job queues if RabbitMQ is not an option?", ["RabbitMQ"]),
    ("不使用 MySQL 的数据库有哪些？", ["MySQL"]),
    ("除了 Kafka，还有哪些消息队列？", ["Kafka"]),
    ("除了 ZooKeeper 之外的选主方案", ["ZooKeeper"]),
    ("不依赖 etcd 的服务发现怎么做？", ["etcd"]),
])
def test_reads_what_the_question_rules_out(question, things):
    assert excluded(question) == things


@pytest.mark.parametrize("question", [
    "What is a fencing token?", "How does etcd implement a lease?", "Redis 分布式锁怎么实现？",
    "Which lock service is fastest?", "什么是乐观锁？", "Compare ZooKeeper and etcd for leader election",
])
def test_questions_that_rule_nothing_out(question):
    assert excluded(question) == []


def test_only_passages_more_about_the_excluded_thing_than_average_lose():
    scores = [3.0, 2.0, 1.0, 0.0]
    about = [[9.0, -5.0, -5.0, -5.0]]  # only the first passage is about the excluded thing
    out = rank_down(scores, about, 1.0)
    assert out[0] < out[1] and out[1:] == scores[1:]
    assert rank_down(scores, [], 1.0) == scores
    assert rank_down(scores, [[1.0] * 4], 1.0) == scores  # nothing stands out: order kept
    # Several excluded things: a passage is as much about them as about the one it is most about.
    two = rank_down(scores, [[9.0, -5.0, -5.0, -5.0], [-5.0, 9.0, -5.0, -5.0]], 3.0)
    assert two[2] > two[0] and two[2] > two[1]


def _cand(i: int, text: str) -> Candidate:
    return Candidate(chunk_id=i, document_id=i, source=f"/kb/{i}.md", title=str(i), heading="", text=text,
                     content_sha256=hashlib.sha256(text.encode()).hexdigest(), tokens=3, score=1.0 - i / 10, rank=i)


def test_rank_pointwise_scores_each_excluded_thing_as_its_own_query():
    cands = [_cand(1, "Kafka partitions topics"), _cand(2, "RabbitMQ routes through exchanges"),
             _cand(3, "queues in general")]
    asked = []

    def score(query, cs):
        asked.append(query)
        if query == "Kafka":  # how much each passage is about Kafka
            return [5.0 if "Kafka" in c.text else 0.0 for c in cs]
        return [1.0 if "Kafka" in c.text else 0.9 for c in cs]  # the question alone prefers the Kafka passage

    plain = rank_pointwise("queues without Kafka", cands, None, score=score, cache=None, trace=Trace("t"))
    assert plain[0].chunk_id == 1
    trace = Trace("t")
    ranked = rank_pointwise("queues without Kafka", cands, None, score=score, cache=None, trace=trace,
                            excluded=["Kafka"], exclusion_weight=1.0)
    assert ranked[-1].chunk_id == 1 and "Kafka" in asked
    assert trace.scored == 6


class _AboutModel:
    """Scores (query, passage) by shared words, the way a reranker prefers the passage naming the query's words."""

    def predict(self, pairs, **_):
        import numpy as np

        return np.array([[len(set(q.lower().split()) & set(p.lower().split()))] for q, p in pairs], dtype=float)


def test_the_cross_encoder_ranks_down_what_the_question_rules_out():
    from assistant.rerank.cross_encoder import CrossEncoderReranker

    cands = [_cand(1, "kafka queues store topics and queues"), _cand(2, "rabbitmq queues route messages")]
    question = "queues without kafka"
    plain = CrossEncoderReranker(_AboutModel(), "m", exclusion_weight=0.0).rerank(question, cands)
    assert plain.ranked[0].chunk_id == 1 and plain.trace.excluded == []
    aware = CrossEncoderReranker(_AboutModel(), "m", exclusion_weight=2.0).rerank(question, cands)
    assert aware.ranked[0].chunk_id == 2 and aware.trace.excluded == ["kafka"]
    assert any("rules out" in n for n in aware.trace.notes)


def test_the_cards_weight_per_language_serves_unless_the_setting_names_one():
    from assistant.rerank.cross_encoder import DEFAULT_EXCLUSION_WEIGHT, CrossEncoderReranker, exclusion_weight_for

    card = {"serving": {"en": {"questions": "all", "way": "alone", "exclusion_weight": 2.0},
                        "zh": {"questions": "all", "way": "alone"}}}
    assert exclusion_weight_for(card, "queues without kafka") == 2.0
    assert exclusion_weight_for(card, "不使用 kafka 的队列") == DEFAULT_EXCLUSION_WEIGHT  # measured for en only
    assert exclusion_weight_for({}, "queues without kafka") == DEFAULT_EXCLUSION_WEIGHT
    cands = [_cand(1, "kafka queues store topics and queues"), _cand(2, "rabbitmq queues route messages")]
    by_card = CrossEncoderReranker(_AboutModel(), "m", card=card, exclusion_weight=None).rerank(
        "queues without kafka", cands)
    assert by_card.ranked[0].chunk_id == 2 and any("weight 2" in n for n in by_card.trace.notes)
    off = CrossEncoderReranker(_AboutModel(), "m", card=card, exclusion_weight=0.0).rerank(
        "queues without kafka", cands)
    assert off.ranked[0].chunk_id == 1 and off.trace.excluded == []


def test_the_exclusion_weight_is_the_best_held_out_one_that_costs_no_group_anything():
    from assistant.train.heldout import best_exclusion_weight

    def sweep(*ndcg):
        return {str(w): {"nDCG@10": v} for w, v in zip((0.0, 0.1, 0.5, 1.0), ndcg)}

    assert best_exclusion_weight([]) is None
    assert best_exclusion_weight([sweep(0.8, 0.85, 0.9, 0.9)]) == 0.5  # a tie goes to the smaller weight
    # 1.0 has the best mean but drops the second group below no ranking down at all.
    assert best_exclusion_weight([sweep(0.8, 0.82, 0.85, 0.99), sweep(0.7, 0.71, 0.7, 0.6)]) == 0.5
    assert best_exclusion_weight([sweep(0.8, 0.7, 0.6, 0.5)]) == 0.0
