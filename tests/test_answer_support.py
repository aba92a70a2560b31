"""The citation support check: each cited sentence scored against the chunk it cites, unsupported ones marked
[n?] in the answer, the run log, `assistant ask` (text and --json) and counted; with real models on small fixtures
(a sentence copied from its chunk passes, the same sentence cited to an unrelated chunk fails)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Sequence

import pytest

from assistant.answer.scoring import EmbeddingScorer, PairScorer, cross_encoder_scorer
from assistant.answer.support import check_support, claim_text, split_sentences
from assistant.cli import build_parser
from assistant.cli.ask import cmd_ask
from assistant.db import runlog
from assistant.services import Services
from assistant.settings import Settings
from assistant.types import Candidate
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts

ETCD = ("etcd locks attach the lock key to a lease; when the client stops sending KeepAlive, the lease expires and "
        "the key is deleted, which releases the lock.")
CAFE = ("The café on the ground floor opens at eight and serves espresso, croissants and a soup of the day; the "
        "menu changes every Monday.")
ZH_ZK = "ZooKeeper 的锁使用临时顺序节点，客户端宕机后会话过期，临时节点被自动删除，锁随之释放。"
ZH_TRAIN = "高铁列车从北京南站出发，经过天津和济南，大约四个半小时到达上海虹桥站。"


@dataclass(frozen=True)
class Item:
    index: int
    chunk_id: int
    text: str


class WordOverlapScorer(PairScorer):
    """A fake scorer: the share of the claim's words found in the passage (deterministic, no model)."""

    kind = "cross-encoder"
    model_id = "fake/overlap"

    def __init__(self):
        self.pairs: list[tuple[str, str]] = []

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        self.pairs += list(pairs)
        out = []
        for claim, passage in pairs:
            words = [w.strip(".,").lower() for w in claim.split()]
            out.append(sum(w in passage.lower() for w in words) / max(1, len(words)))
        return out


def test_sentences_keep_their_markers_and_claims_lose_them():
    text = "According to [1], etcd uses leases. ZooKeeper uses znodes.[2] Version 2.5 is fine [3]\n- Consul [4]"
    sents = [s.text.strip() for s in split_sentences(text)]
    assert sents == ["According to [1], etcd uses leases.", "ZooKeeper uses znodes.[2]", "Version 2.5 is fine [3]",
                     "- Consul [4]"]
    assert claim_text("According to [1], etcd uses leases.") == "etcd uses leases."
    assert claim_text("根据 [2]，ZooKeeper 使用临时顺序节点。") == "ZooKeeper 使用临时顺序节点。"
    assert claim_text("- Consul sessions [4]") == "Consul sessions"


def test_an_unsupported_citation_is_marked_and_counted():
    context = [Item(1, 11, ETCD), Item(2, 22, CAFE)]
    text = "etcd locks attach the lock key to a lease [1]. The lease expires when KeepAlive stops [2]."
    check = check_support(text, context, WordOverlapScorer(), threshold=0.6)
    assert [(c.number, c.chunk_id, c.supported) for c in check.claims] == [(1, 11, True), (2, 22, False)]
    assert check.unsupported_numbers == [2] and check.rate == 0.5
    assert check.marked_text == "etcd locks attach the lock key to a lease [1]. The lease expires when KeepAlive " \
                                "stops [2?]."
    logged = json.loads(json.dumps(check.to_dict()))
    assert logged["unsupported"] == 1 and logged["claims"][1]["supported"] is False


def test_one_number_of_a_shared_marker_is_marked_alone():
    context = [Item(1, 11, ETCD), Item(2, 22, CAFE)]
    check = check_support("The lock key is attached to a lease [1, 2].", context, WordOverlapScorer(), 0.6)
    assert check.marked_text == "The lock key is attached to a lease [1, 2?]."


def test_uncited_sentences_code_and_invalid_numbers_are_not_scored():
    scorer = WordOverlapScorer()
    check = check_support("Locks are hard. Use `arr[1]` here. See [9].", [Item(1, 11, ETCD)], scorer, 0.6)
    assert check.claims == [] and scorer.pairs == [] and check.rate is None
    assert check.marked_text == "Locks are hard. Use `arr[1]` here. See [9]."


# Real models: the house cross-encoder (the default scorer) and the USE embedder (the fallback).

def _cand(i: int, text: str) -> Candidate:
    return Candidate(chunk_id=i, document_id=i, source=f"/kb/{i}.md", title=f"doc {i}", heading="", text=text,
                     content_sha256=hashlib.sha256(text.encode()).hexdigest(), tokens=len(text.split()),
                     score=1.0, rank=i)


def _copied_and_misattributed(scorer: PairScorer, threshold: float) -> None:
    for own, other in ((ETCD, CAFE), (ZH_ZK, ZH_TRAIN)):
        sentence = own.split("；")[0].split(";")[0]
        for text in (f"{sentence} [1].", f"根据 [1]，{sentence}。"):
            ok = check_support(text, [Item(1, 1, own)], scorer, threshold)
            assert [c.supported for c in ok.claims] == [True], (ok.claims, scorer.describe())
            bad = check_support(text, [Item(1, 2, other)], scorer, threshold)
            assert [c.supported for c in bad.claims] == [False], (bad.claims, scorer.describe())
            assert "[1?]" in bad.marked_text


@pytest.mark.house
def test_house_cross_encoder_passes_a_copied_sentence_and_fails_a_misattributed_one(tmp_path):
    settings = Settings(data_dir=tmp_path, rerank_cache=False, demo_kb=False)
    scorer = cross_encoder_scorer(Services(settings))
    assert scorer is not None and scorer.kind == "cross-encoder"
    _copied_and_misattributed(scorer, settings.support_min_score)


def test_embedding_fallback_passes_a_copied_sentence_and_fails_a_misattributed_one(use_embedder):
    _copied_and_misattributed(EmbeddingScorer(use_embedder), Settings().support_min_similarity)


def test_without_a_cross_encoder_the_embedder_scores(tmp_path, use_embedder):
    # The house model is hidden from this test (conftest), as on a damaged install.
    services = Services(Settings(data_dir=tmp_path, rerank_cache=False, demo_kb=False), embedder=use_embedder)
    assert cross_encoder_scorer(services) is None


# Through the pipeline and the CLI, on a real database.

DOCS = {"etcd.md": f"# etcd lock\n\n{ETCD}", "cafe.md": f"# Cafe\n\n{CAFE}"}


def _ask(db, settings, embedder, tmp_path, capsys, reply, *extra):
    ingest_texts(db, embedder, settings, tmp_path, DOCS)
    services = Services(settings, db=db, embedder=embedder, completer=FakeCompleter([reply]))
    args = build_parser().parse_args(["ask", "how do etcd locks get released?", "--rerank", "none", *extra])
    code = cmd_ask(args, settings, services)
    return code, capsys.readouterr(), services


def _numbers(db, settings, embedder, tmp_path):
    """Which source number each document gets (recall order decides), so the reply can cite them right."""
    ingest_texts(db, embedder, settings, tmp_path, DOCS)
    cands = Services(settings, db=db, embedder=embedder).recaller.recall("how do etcd locks get released?", 5,
                                                                       settings.recall_mode)
    return {c.source.rsplit("/", 1)[-1]: n for n, c in enumerate(cands, start=1)}


def test_ask_json_and_run_log_mark_the_unsupported_citation(db, settings, use_embedder, tmp_path, capsys):
    n = _numbers(db, settings, use_embedder, tmp_path)
    reply = f"{ETCD.split(';')[0]} [{n['etcd.md']}]. {ETCD.split(';')[0]} [{n['cafe.md']}]."
    code, out, _ = _ask(db, settings, use_embedder, tmp_path, capsys, reply, "--json")
    assert code == 0
    obj = json.loads(out.out)
    by_n = {c["n"]: c["supported"] for c in obj["citations"]}
    assert by_n == {n["etcd.md"]: True, n["cafe.md"]: False}
    assert obj["support"]["unsupported"] == 1 and f"[{n['cafe.md']}?]" in obj["answer_marked"]
    with db.connection() as conn:
        logged = runlog.get_run(conn, obj["run_id"])
    claims = logged["citations"]["support"]["claims"]
    assert [c["supported"] for c in claims] == [True, False]


def test_ask_prints_unsupported_citations_dimmed(db, settings, use_embedder, tmp_path, capsys):
    n = _numbers(db, settings, use_embedder, tmp_path)
    reply = f"{ETCD.split(';')[0]} [{n['cafe.md']}]."
    code, out, _ = _ask(db, settings, use_embedder, tmp_path, capsys, reply)
    text = " ".join(out.out.split())
    assert code == 0
    assert "unsupported citations: 1 of 1" in text and f"[{n['cafe.md']}?]" in text
    assert "this source does not appear to say this" in text


def test_the_chat_dims_an_unsupported_marker_and_keeps_it_clickable():
    from assistant.tui.format import answer_content

    content = answer_content("etcd uses leases [1]. It opens at eight [2?].", 1, [1, 2], [])
    styles = {content.plain[s.start:s.end]: str(s.style) for s in content.spans}
    assert "dim" in styles["[2?]"] and "cite(1,2)" in styles["[2?]"]
    assert "dim" not in styles["[1]"] and "underline" in styles["[1]"]


def test_a_support_check_that_cannot_run_leaves_the_answer_unmarked():
    from types import SimpleNamespace

    from assistant.answer.support import check_answer

    class Broken:
        settings = Settings(support_min_score=0.5)

        def reranker(self, name):
            raise RuntimeError("model file vanished\nsecond line")

    answer = SimpleNamespace(text="etcd releases the lock when the lease expires [1].",
                             context=[Item(1, 1, ETCD)])
    check = check_answer(answer, Broken())
    assert check.claims == [] and check.marked_text == answer.text
    assert check.scorer.startswith("not checked (RuntimeError: model file vanished)")
