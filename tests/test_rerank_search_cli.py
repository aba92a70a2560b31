"""`assistant search --rerank` and `auto` through the pipeline, on a real database with a fake capable ranker."""
from __future__ import annotations

import argparse
import re

from rich.console import Console

from assistant.cli.search import cmd_search, comparison_table, movement, register
from assistant.db import runlog
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts

DOCS = {
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
    "redlock.md": "# Redlock\n\nRedlock acquires the lock on a majority of independent Redis masters.",
    "cache.md": "# Redis caching\n\nCache-aside with Redis: read through, set a TTL, avoid stampedes.",
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes for a distributed lock.",
    "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease that expires when the client dies.",
    "pg.md": "# Postgres advisory locks\n\npg_advisory_lock takes a session-level lock on a 64-bit key.",
}
QUESTION = "distributed lock that does not use Redis"


class NoRedisRanker(FakeCompleter):
    """A capable ranker for this question: passages not about Redis first, otherwise the given order."""

    def complete(self, messages, **kw):
        blocks = re.findall(r"^\[(\d+)\] ([^\n]*\n[^\n]*)", messages[-1]["content"], re.M)  # title + text lines
        order = sorted(blocks, key=lambda b: "redis" in b[1].lower())
        self.replies.append(" > ".join(f"[{i}]" for i, _ in order))
        return super().complete(messages, **kw)


def _services(settings, db, fake_embedder, tmp_path, completer):
    ingest_texts(db, fake_embedder, settings, tmp_path, DOCS)
    return Services(settings.replace(listwise_model="openai/gpt-4o-mini", recall_k=6), db=db,
                    embedder=fake_embedder, completer=completer)


def _args(*argv):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["search", *argv])


def test_auto_picks_the_capable_ranker_and_logs_the_decision(settings, db, fake_embedder, tmp_path):
    fake = NoRedisRanker()
    services = _services(settings, db, fake_embedder, tmp_path, fake)
    run = ask(QUESTION, AskOptions(strategy="auto", answer=False), services)
    assert run.strategy == "llm" and run.decision["signals"] == ["negation:not"]
    top = [r.candidate.source.rsplit("/", 1)[-1] for r in run.ranked[:3]]
    assert set(top) == {"zk.md", "etcd.md", "pg.md"}
    with db.connection() as conn:
        row = runlog.get_run(conn, run.id)
    assert row["strategy"] == "llm" and row["policy_decision"]["strategy"] == "llm"
    assert "negation ('not')" in row["policy_decision"]["reason"]
    rerank = row["trace"]["rerank"]
    assert rerank["parse_ok"] is True and rerank["model"] == "fake/llm"
    assert rerank["calls"][0]["reply"].count("[") == len(run.candidates)
    assert all(call["purpose"] == "rerank" for call in fake.calls)


def test_search_shows_before_and_after_side_by_side(settings, db, fake_embedder, tmp_path, capsys):
    services = _services(settings, db, fake_embedder, tmp_path, NoRedisRanker())
    assert cmd_search(_args(QUESTION, "--rerank", "auto", "-k", "6"), services.settings, services) == 0
    out = capsys.readouterr().out
    assert "auto" in out and "→" in out and "llm" in out and "negation" in out
    assert "▲" in out and "▼" in out
    assert "1 model call(s), parse ok: True" in out


def test_search_without_a_ranker_says_why(settings, db, fake_embedder, tmp_path, capsys):
    weak = FakeCompleter(model="ollama/tiny", can_rank=False)
    services = _services(settings, db, fake_embedder, tmp_path, weak)
    assert cmd_search(_args(QUESTION, "--rerank", "auto"), services.settings, services) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "no reranker is available" in out and weak.calls == []


def test_comparison_table_rows():
    class Run:  # the fields of pipeline.Run the table reads
        pass

    from assistant.rerank.base import Ranked
    from assistant.types import Candidate

    cands = [Candidate(i, i, f"s{i}.md", f"Doc {i}", "", f"text {i}", f"h{i}", 2, 0.9 - i / 10, i) for i in (1, 2, 3)]
    run = Run()
    run.strategy, run.question, run.candidates = "cross-encoder", "q", cands
    run.ranked = [Ranked(cands[2], 1, 0.97), Ranked(cands[0], 2, 0.5), Ranked(cands[1], 3, 0.125)]
    console = Console(width=160, record=True)
    console.print(comparison_table(run))
    lines = [ln for ln in console.export_text().splitlines() if "Doc" in ln]
    assert re.search(r"1 .*▲2 .*3 .*0\.970 .*0\.600 .*Doc 3", lines[0])
    assert re.search(r"2 .*▼1 .*1 .*0\.500 .*0\.800 .*Doc 1", lines[1])
    assert re.search(r"3 .*▼1 .*2 .*0\.125 .*0\.700 .*Doc 2", lines[2])
    assert str(movement(4, 4)) == "=" and str(movement(5, 1)) == "▲4" and str(movement(1, 3)) == "▼2"


def test_empty_and_overlong_questions_are_refused(settings, db, fake_embedder, tmp_path, capsys):
    services = _services(settings, db, fake_embedder, tmp_path, FakeCompleter())
    assert cmd_search(_args("  "), services.settings, services) == 2
    assert "empty question" in capsys.readouterr().err
    assert cmd_search(_args("lock " * 4000), services.settings, services) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "20,000 characters" in err and "limit is 2,000" in err
    import pytest
    with pytest.raises(ValueError, match="limit is 2,000"):
        ask("x" * 2001, AskOptions(strategy="none", answer=False), services)


def test_show_applies_without_rerank_and_json_is_one_object(settings, db, fake_embedder, tmp_path, capsys):
    import json

    services = _services(settings, db, fake_embedder, tmp_path, FakeCompleter())
    assert cmd_search(_args(QUESTION, "--show", "2"), services.settings, services) == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("│") and ".md" not in ln
            and any(ch.isdigit() for ch in ln.split("│")[1])]
    assert len(rows) == 2
    assert cmd_search(_args(QUESTION, "--rerank", "auto", "--show", "3", "--json"), services.settings, services) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["strategy"] == "llm" and obj["decision"]["signals"] == ["negation:not"]
    assert [r["rank"] for r in obj["results"]] == [1, 2, 3]
    assert {"recall_rank", "score", "source", "chunk_id", "title"} <= set(obj["results"][0])
    assert "recall_ms" in obj["timings"]
