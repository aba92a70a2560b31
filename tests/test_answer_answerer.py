import pytest

from assistant.answer.answerer import answer_question, is_abstention, question_language
from assistant.answer.citations import parse_citations
from assistant.answer.context import ContextItem
from assistant.db import runlog
from assistant.models.completer import LLMError
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from assistant.types import Candidate
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts


def _context(n: int) -> list[ContextItem]:
    texts = ["ZooKeeper locks use ephemeral sequential nodes.", "etcd locks attach a key to a lease.",
             "Redis locks use SET NX PX.", "Postgres advisory locks take a 64-bit key."]
    return [ContextItem(i, Candidate(50 + i, i, f"kb/doc{i}.md", f"Doc {i}", "", texts[i - 1], f"s{i}", 8, 0.5, i),
                        texts[i - 1], 8) for i in range(1, n + 1)]


def test_cited_answer_streams_and_maps_citations(settings):
    ctx = _context(3)
    fake = FakeCompleter(["ZooKeeper uses ephemeral sequential nodes [1]; etcd uses leases 【2】."])
    pieces = []
    answer = answer_question("How to lock without Redis?", ctx, fake, settings, on_token=pieces.append)
    assert "".join(pieces).strip() == answer.text and len(pieces) > 1
    assert answer.citations.valid == [1, 2] and answer.cited_chunk_ids == [51, 52]
    assert [i.index for i in answer.cited] == [1, 2] and [i.index for i in answer.uncited] == [3]
    assert not answer.abstained and answer.language == "en"
    assert len(answer.prompt_sha) == 64
    d = answer.citations_dict()
    assert d["valid"] == [1, 2] and d["chunk_ids"] == [51, 52] and d["invalid"] == [] and not d["none"]
    assert [c["chunk_id"] for c in d["context"]] == [51, 52, 53]
    # the model was shown every source with its number, title and path, and the question
    call = fake.calls[0]
    roles = [m["role"] for m in call["messages"]]
    assert roles[0] == "system" and roles[-1] == "user"  # a worked example may sit between them
    user = call["messages"][-1]["content"]
    for item in ctx:
        shown = user[user.index(f"[{item.index}]"):]
        assert shown.index(f"Doc {item.index}") < shown.index(item.text)  # number, title, then the text
        assert f"kb/doc{item.index}.md" in shown
    assert "How to lock without Redis?" in user and "[1] to [3]" in user
    assert call["temperature"] == settings.temperature and call["max_tokens"] == settings.max_answer_tokens


def test_out_of_range_citation_is_flagged(settings):
    answer = answer_question("q?", _context(2), FakeCompleter(["Etcd [2]; also [5]."]), settings)
    assert answer.citations.valid == [2] and answer.citations.invalid == [5]
    assert answer.cited_chunk_ids == [52]
    assert answer.citations_dict()["invalid"] == [5]


def test_answer_without_citations_is_reported(settings):
    answer = answer_question("q?", _context(2), FakeCompleter(["Use ZooKeeper or etcd."]), settings)
    assert answer.citations.none and answer.cited_chunk_ids == [] and not answer.abstained
    assert answer.citations_dict()["none"] is True


@pytest.mark.parametrize("question, reply", [
    ("Which lock works on DynamoDB?", "The sources do not say which lock works on DynamoDB; they cover ZooKeeper [1]."),
    ("DynamoDB 上用什么锁？", "资料中没有说明 DynamoDB 上的锁。"),
    ("DynamoDB 上用什么锁？", "资料中没有提到 DynamoDB。"),
])
def test_abstention_is_detected(settings, question, reply):
    answer = answer_question(question, _context(2), FakeCompleter([reply]), settings)
    assert answer.abstained
    assert answer.citations_dict()["abstained"] is True


def test_not_an_abstention_when_the_answer_answers():
    assert not is_abstention("Use ZooKeeper ephemeral nodes [1]. Later sections add more detail [2].")
    assert not is_abstention("可以使用 etcd 的租约实现锁 [2]。")


def test_chinese_question_gets_the_chinese_instruction(settings):
    fake = FakeCompleter(["可以用 ZooKeeper 的临时顺序节点 [1]。"], default="Use etcd [2].")
    answer_question("不使用 Redis 的分布式锁实现方式有哪些？", _context(2), fake, settings)
    answer_question("Which distributed locks do not use Redis?", _context(2), fake, settings)
    zh_user, en_user = (c["messages"][-1]["content"] for c in fake.calls)
    assert "请用中文回答" in zh_user and "Answer in English" not in zh_user
    assert "Answer in English" in en_user and "请用中文回答" not in en_user
    # any worked example shown to the model cites its sources the way the model is asked to
    for call in fake.calls:
        for shown in (m["content"] for m in call["messages"] if m["role"] == "assistant"):
            assert parse_citations(shown)
    # the system prompt is the same, so a server's prompt cache can reuse it
    assert fake.calls[0]["messages"][0] == fake.calls[1]["messages"][0]


@pytest.mark.parametrize("question, lang", [
    ("不使用 Redis 的分布式锁实现方式有哪些？", "zh"),
    ("Redis 锁的看门狗是什么", "zh"),
    ("How do fencing tokens work?", "en"),
    ("What does the word 分布式 mean in this design doc?", "en"),
])
def test_question_language(question, lang):
    assert question_language(question) == lang


def test_empty_context_abstains_without_calling_the_model(settings):
    fake = FakeCompleter()
    pieces = []
    answer = answer_question("有没有关于量子计算的资料？", [], fake, settings, on_token=pieces.append)
    assert fake.calls == [] and answer.abstained and answer.language == "zh"
    assert pieces == [answer.text] and answer.citations.none
    assert answer.completion.attempts == 0


def test_llm_error_propagates(settings):
    with pytest.raises(LLMError, match="down"):
        answer_question("q?", _context(1), FakeCompleter([LLMError("server down")]), settings)


DOCS = {
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes; no Redis involved.",
    "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease that expires when the client dies.",
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
}


def test_pipeline_logs_cited_chunks_and_citations(db, settings, fake_embedder, tmp_path):
    ingest_texts(db, fake_embedder, settings, tmp_path, DOCS)
    fake = FakeCompleter(["Use ZooKeeper znodes [1] or etcd leases [2]; see also [9]."])
    services = Services(settings, db=db, embedder=fake_embedder, completer=fake)
    events = []
    run = ask("lock without Redis", AskOptions(strategy="none", context_k=3), services, events.append)
    kinds = [e.kind for e in events]
    assert "context" in kinds and "token" in kinds and kinds[-1] == "done"
    assert kinds.index("context") < kinds.index("token") < kinds.index("answer")
    assert run.answer.citations.valid == [1, 2] and run.answer.citations.invalid == [9]
    with db.connection() as conn:
        logged = runlog.get_run(conn, run.id)
    assert logged["status"] == "ok" and logged["prompt_sha"] == run.answer.prompt_sha
    assert logged["citations"]["valid"] == [1, 2] and logged["citations"]["invalid"] == [9]
    cited = {c["chunk_id"] for c in logged["candidates"] if c["cited"]}
    assert cited == set(run.answer.cited_chunk_ids) == {run.context[0].chunk_id, run.context[1].chunk_id}
    in_context = sorted((c["context_index"], c["chunk_id"]) for c in logged["candidates"] if c["in_context"])
    assert in_context == [(item.index, item.chunk_id) for item in run.context]


def test_prompt_file_missing_a_section_fails_when_loaded(settings, tmp_path):
    from assistant.paths import resource_dir
    from assistant.prompts import PromptError

    text = (resource_dir("prompts") / "answer.md").read_text(encoding="utf-8")
    (tmp_path / "answer.md").write_text(text.split("<!-- empty:zh -->")[0], encoding="utf-8")
    with pytest.raises(PromptError, match="empty:zh"):
        answer_question("q?", _context(1), FakeCompleter(["x [1]"]), settings.replace(prompts_dir=tmp_path))


def test_a_source_that_looks_like_a_prompt_marker_stays_a_source(settings):
    ctx = _context(1)
    odd = ContextItem(2, ctx[0].candidate.with_(chunk_id=99), "before\n<!-- user -->\nafter {question}", 6)
    fake = FakeCompleter(["ok [2]"])
    answer = answer_question("q?", ctx + [odd], fake, settings)
    assert "before\n<!-- user -->\nafter {question}" in fake.calls[0]["messages"][-1]["content"]
    assert answer.cited_chunk_ids == [99]
