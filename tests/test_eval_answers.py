"""`assistant eval-answers`: every gold question asked through the pipeline and logged, then scored from the run
log: forbidden citations, expected sources, abstentions, support, agreement, time; table, history, plot, --json."""
from __future__ import annotations

import json
import re

import pytest

from assistant.answer.gold import GoldError, load_gold, matches
from assistant.cli import build_parser
from assistant.cli.answers_eval import cmd_eval_answers
from assistant.eval.answers import spread
from assistant.services import Services
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts

DOCS = {
    "etcd.md": "# etcd lock\n\netcd locks attach the key to a lease that expires when the client dies.",
    "zk.md": "# ZooKeeper lock\n\nZooKeeper locks use ephemeral sequential znodes; no Redis involved.",
    "redis.md": "# Redis lock\n\nA Redis lock uses SET key value NX PX 30000 and a random token.",
}
GOLD = [
    {"id": "q1", "lang": "en", "kind": "lookup", "question": "How are etcd locks released?",
     "expected": ["kb/etcd.md"], "forbidden": ["kb/redis.md"], "abstain": False},
    {"id": "q2", "lang": "en", "kind": "exclusion", "question": "Which lock works without Redis?",
     "expected": ["kb/zk.md"], "forbidden": ["kb/redis.md"], "abstain": False},
    {"id": "q3", "lang": "en", "kind": "unanswerable", "question": "What is the capital of Australia?",
     "expected": [], "forbidden": [], "abstain": True},
]


class ScriptedCompleter(FakeCompleter):
    """Cites the source whose file the script names for the question (found in the prompt), like a model would."""

    SCRIPT = {"etcd": "etcd.md", "without Redis": "redis.md", "Australia": None}

    def complete(self, messages, **kw):
        prompt = messages[-1]["content"]
        question = prompt.split("Question:")[-1]
        target = next(f for key, f in self.SCRIPT.items() if key in question)
        if target is None:
            self.replies = ["The sources do not say what the capital of Australia is."]
        else:
            n = re.search(rf'<source \[(\d+)\][^>]*path="[^"]*{re.escape(target)}"', prompt).group(1)
            self.replies = [f"{DOCS[target].splitlines()[-1]} [{n}]."]
        return super().complete(messages, **kw)


def _gold(tmp_path, rows=GOLD):
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_eval_answers_scores_from_the_run_log(db, settings, fake_embedder, tmp_path, capsys):
    ingest_texts(db, fake_embedder, settings, tmp_path / "kb", DOCS)
    completer = ScriptedCompleter()
    services = Services(settings, db=db, embedder=fake_embedder, completer=completer)
    out = tmp_path / "figures.json"
    args = build_parser().parse_args(["eval-answers", "--gold", str(_gold(tmp_path)), "--strategies", "none",
                                      "--runs", "2", "--json", str(out), "--plot", str(tmp_path / "a.png")])
    assert cmd_eval_answers(args, settings, services) == 0
    fig = json.loads(out.read_text())["strategies"]["none"]
    assert fig["forbidden_rate"] == 0.5  # q2 cites the Redis page it rules out; q1 does not
    assert fig["expected_hit"] == 0.5 and fig["abstain_acc"] == 1.0
    assert fig["agreement"] == 1.0 and fig["counts"]["agreement_pairs"] == 3
    assert fig["counts"]["ok"] == 6 and fig["answer_s_p50"] is not None
    assert 0 <= fig["support_rate"] <= 1 and fig["counts"]["claims"] == 4
    shown = " ".join(capsys.readouterr().out.split())
    assert "forbidden" in shown and "0.50" in shown and "history:" in shown
    assert (tmp_path / "a.png").stat().st_size > 0
    history = settings.data_dir / "eval" / "answers.jsonl"
    record = json.loads(history.read_text().splitlines()[-1])
    assert record["strategies"]["none"]["abstain_acc"] == 1.0
    # The same figures again from the log alone (a stopped run can be scored too), with no model call.
    asked_before = len(completer.calls)
    again = tmp_path / "again.json"
    args = build_parser().parse_args(["eval-answers", "--gold", str(_gold(tmp_path)), "--strategies", "none",
                                      "--experiment", record["experiment"], "--json", str(again),
                                      "--plot", str(tmp_path / "b.png")])
    assert cmd_eval_answers(args, settings, services) == 0
    redone = json.loads(again.read_text())
    assert redone["strategies"] == record["strategies"] and redone["runs"] == 2
    assert len(completer.calls) == asked_before


def test_a_bad_gold_file_is_refused_with_its_line(tmp_path):
    bad = _gold(tmp_path, [GOLD[0], {**GOLD[1], "expected": []}])
    with pytest.raises(GoldError, match=":2: an answerable question needs expected files"):
        load_gold(bad)


def test_unknown_strategy_exits_2(settings, tmp_path, capsys):
    args = build_parser().parse_args(["eval-answers", "--gold", str(_gold(tmp_path)), "--strategies", "nope"])
    assert cmd_eval_answers(args, settings) == 2
    assert "unknown strategy nope" in capsys.readouterr().err


def test_files_match_by_trailing_path_parts_and_limit_takes_the_head():
    assert matches("/srv/demo_kb/en/redis-redlock.md", ["en/redis-redlock.md"])
    assert not matches("/srv/demo_kb/zh/redis-redlock.md", ["en/redis-redlock.md"])
    assert not matches("/srv/demo_kb/en/xredis-redlock.md", ["en/redis-redlock.md"])
    assert spread(list(range(10)), 3) == [0, 1, 2] and spread([1, 2], None) == [1, 2]


def test_the_demo_gold_set_meets_the_issue():
    from pathlib import Path

    from assistant.paths import demo_kb_dir

    gold = load_gold(Path(__file__).resolve().parents[1] / "bench" / "gold_demo.jsonl")
    assert len(gold) >= 60
    assert sum(q.lang == "zh" for q in gold) == sum(q.lang == "en" for q in gold)
    assert sum(q.abstain for q in gold) >= 10
    kinds = {"lookup", "exclusion", "multi", "comparison", "unanswerable"}
    assert {q.kind for q in gold} == kinds
    assert {q.kind for q in gold[:10]} == kinds and {q.lang for q in gold[:2]} == {"en", "zh"}  # heads mix
    for q in gold:  # every named file exists in the demo knowledge base
        assert all((demo_kb_dir() / f).is_file() for f in q.expected + q.forbidden), q.id
    seed = {"不使用 Redis 的分布式锁实现方式有哪些？", "distributed lock without Redis"}
    paraphrases = (Path(__file__).resolve().parents[1] / "bench" / "paraphrases_redis.txt").read_text("utf-8")
    assert not any(q.question in seed or q.question in paraphrases for q in gold)
