"""`assistant consistency / report / runs` as a user runs them, on a real database."""
from __future__ import annotations

import pytest

from assistant.cli import main
from assistant.db import runlog
from assistant.models.completer import LLMError
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts

DOCS = {
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
    "redlock.md": "# Redlock\n\nRedlock acquires the lock on a majority of independent Redis masters.",
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes; no Redis involved.",
    "zh-redis.md": "# 基于 Redis 的分布式锁\n\n使用 SET NX PX 命令加锁，并用 Lua 脚本释放锁。",
}


@pytest.fixture
def cli_env(monkeypatch, settings, pg_url, db):
    """The CLI reads its settings from the environment: point it at the test schema."""
    for key in ("ASSISTANT_CONFIG", "ASSISTANT_EMBEDDER", "ASSISTANT_RERANK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("ASSISTANT_SCHEMA", db.schema)
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ASSISTANT_DEMO_KB", "false")
    monkeypatch.setenv("COLUMNS", "200")  # rich reads it on every print: no wrapped lines to match across
    return settings


def ingest(db, settings, embedder, tmp_path):
    docs = tmp_path / "docs"
    ingest_texts(db, embedder, settings, docs, DOCS)


def test_runs_lists_and_shows_a_run_in_full(cli_env, db, use_embedder, tmp_path, capsys, monkeypatch):
    from assistant.cli import common
    monkeypatch.setattr(common.console, "width", 200)  # a wide terminal, so table cells are not wrapped
    ingest(db, cli_env, use_embedder, tmp_path)
    services = Services(cli_env.replace(recall_k=4, context_k=2), db=db, embedder=use_embedder,
                        completer=FakeCompleter(["A Redis lock is SET NX PX with a token [1].",
                                                 LLMError("model went away")]))
    ok = ask("How do I lock with Redis?", AskOptions(strategy="none"), services)
    with pytest.raises(LLMError):
        ask("Redis 锁怎么实现？", AskOptions(strategy="none"), services)

    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert "How do I lock with Redis?" in listing and "model went away" in listing and "error" in listing

    assert main(["runs", "show", str(ok.id)]) == 0
    shown = capsys.readouterr().out
    assert "How do I lock with Redis?" in shown
    assert "A Redis lock is SET NX PX with a token [1]." in shown  # the answer
    assert "SET key value NX PX 30000" in shown  # the context's chunk text
    assert "context given to the model" in shown and "✓" in shown  # the cited candidate is marked

    assert main(["runs", "show", "999999"]) == 1
    assert "no run with id 999999" in capsys.readouterr().err


def test_consistency_then_report_recomputes_the_same_figures(cli_env, db, use_embedder, tmp_path, capsys):
    ingest(db, cli_env, use_embedder, tmp_path)
    para = tmp_path / "para.txt"
    para.write_text("Redis 分布式锁怎么实现？\n", encoding="utf-8")
    code = main(["consistency", "How do I take a lock with Redis?", "--runs", "2", "--strategies", "none",
                 "--paraphrases", str(para), "--no-answer", "--k", "3", "--tag", "cli-exp",
                 "--json", str(tmp_path / "first.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "same question, repeated" in out and "across paraphrases" in out
    pngs = sorted((cli_env.data_dir / "reports").glob("*.png"))
    assert [p.name for p in pngs] == ["cli-exp.png"] and pngs[0].stat().st_size > 20_000
    with db.connection() as conn:
        assert len(runlog.list_runs(conn, limit=0, experiment="cli-exp")) == 4

    assert main(["report", "--experiment", "cli-exp", "--k", "3", "--no-plot",
                 "--json", str(tmp_path / "again.json")]) == 0
    assert (tmp_path / "again.json").read_text("utf-8") == (tmp_path / "first.json").read_text("utf-8")


def test_report_without_a_selection_lists_experiments(cli_env, db, capsys):
    with db.connection() as conn:
        run_id = runlog.start_run(conn, question="q", strategy="none", options={}, experiment="exp-a",
                                  recall_mode="vector", embed_model="m", model=None)
        runlog.finish_run(conn, run_id, status="ok")
    assert main(["report"]) == 2
    captured = capsys.readouterr()
    assert "exp-a" in captured.out and "--experiment" in captured.err
    assert main(["report", "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err


def test_consistency_refuses_unknown_strategies_before_running(cli_env, db, capsys):
    assert main(["consistency", "q", "--strategies", "none,bm25"]) == 2
    assert "unknown: bm25" in capsys.readouterr().err
    with db.connection() as conn:
        assert runlog.list_runs(conn) == []
