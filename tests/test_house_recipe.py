"""The house recipe: the bundled file parses, sources weigh as stated, serving is chosen from held-out figures
so that the model is never served where it measured below recall, and auto follows the card per language."""
from __future__ import annotations

import pytest

from assistant.rerank.cross_encoder import measured_useful, serving_for
from assistant.rerank.policy import decide
from assistant.train.data import TrainGroup
from assistant.train.house import RecipeError, choose_serving, load_recipe, serving_by_language, weighted


def test_bundled_house_recipe_reads_train_and_dev_splits_only():
    recipe = load_recipe("house")
    assert recipe.name == "house" and recipe.config.loss == "lambda" and recipe.config.add_cjk > 0
    names = {s.name for s in recipe.sources}
    assert {"nevir", "excluir", "scifact", "cmrc", "demo-constraints"} <= names
    for s in recipe.sources:
        assert s.split in ("train", "dev") and s.heldout_split in (None, "dev")
    demo = next(s for s in recipe.sources if s.name == "demo-constraints")
    assert "redis" in demo.hold_out_terms  # the demo question is reported, so never trained on


@pytest.mark.parametrize("text, message", [
    ('[[source]]\nname = "a"\nkind = "qrels"\npath = "x"\nwieght = 2\n', "unknown field(s) wieght"),
    ('[[source]]\nname = "a"\nkind = "web"\n', "kind 'web'"),
    ('[[source]]\nname = "a"\nkind = "qrels"\n', "needs path"),
    ('name = "x"\n', "no [[source]]"),
    ('[training]\nloss = "mse"\n[[source]]\nname = "a"\nkind = "constraints"\n', "loss 'mse'"),
    ('[[source]]\nname = "a"\nkind = "constraints"\nnegative_ranks = "9-3"\n', "negative_ranks"),
])
def test_recipe_errors_name_the_field(tmp_path, text, message):
    path = tmp_path / "r.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_recipe(str(path))


def test_missing_recipe_lists_the_bundled_ones():
    with pytest.raises(RecipeError, match="bundled recipes: .*house"):
        load_recipe("nosuch")


def test_weight_repeats_groups_and_samples_the_fraction():
    groups = [TrainGroup(str(i), "qrels", f"q{i}", ["p"], ["n"]) for i in range(100)]
    assert len(weighted(groups, 2.0, 0)) == 200
    half = weighted(groups, 1.5, 0)
    assert 100 + 35 <= len(half) <= 100 + 65 and half == weighted(groups, 1.5, 0)


def _held(recall, alone, fused, lang="en"):
    return {"queries": 10, "language": lang, "recall": {"nDCG@10": recall}, "reranked": {"nDCG@10": alone},
            "fused": {w: {"nDCG@10": v} for w, v in fused.items()}}


def test_alone_when_it_beats_recall_everywhere():
    held = {"a": _held(0.5, 0.7, {"0.3": 0.6}), "b": _held(0.4, 0.6, {"0.3": 0.5})}
    assert choose_serving(held, set())["questions"] == "all" and choose_serving(held, set())["way"] == "alone"


def test_fused_weight_that_keeps_every_source_at_least_at_recall():
    held = {"a": _held(0.5, 0.8, {"0.3": 0.6, "0.7": 0.7}), "b": _held(0.9, 0.7, {"0.3": 0.91, "0.7": 0.85})}
    assert choose_serving(held, set()) == {"questions": "all", "way": "0.3", "sources": ["a", "b"]}


def test_constrained_only_when_plain_questions_lose_everywhere():
    held = {"neg": _held(0.3, 0.6, {"0.3": 0.4}), "plain": _held(0.9, 0.5, {"0.3": 0.8})}
    got = choose_serving(held, {"neg"})
    assert got["questions"] == "constrained" and got["way"] == "alone"
    assert choose_serving({"plain": held["plain"]}, set())["questions"] == "none"


def test_serving_is_chosen_per_language():
    held = {"scifact": _held(0.5, 0.6, {"0.3": 0.55}), "cmrc": _held(0.9, 0.4, {"0.3": 0.85}, "zh"),
            "demo:zh": _held(0.3, 0.6, {"0.3": 0.5}, "zh")}
    serving = serving_by_language(held, {"demo"})
    assert serving["en"]["questions"] == "all" and serving["en"]["way"] == "alone"
    assert serving["zh"]["questions"] == "constrained" and serving["zh"]["sources"] == ["demo:zh"]


def test_cards_serving_drives_the_weight_and_auto():
    card = {"serving": {"en": {"questions": "all", "way": "alone"}, "zh": {"questions": "constrained", "way": "0.5"}}}
    assert serving_for(card, "what causes scurvy") == ("all", None)
    assert serving_for(card, "不使用 Redis 的分布式锁实现方式有哪些？") == ("constrained", 0.5)
    assert measured_useful(card)
    assert not measured_useful({"serving": {"en": {"questions": "none", "way": None}}})
    assert serving_for({"fusion_weight": 0.7}, "x") == ("all", 0.7)  # cards of `reranker train --name`
    plain = decide("分布式锁的实现方式有哪些", available=["none", "cross-encoder"], n_candidates=20,
                   constrained_only=["cross-encoder"])
    assert plain.strategy == "none" and "constrained questions only" in plain.reason
    neg = decide("不使用 Redis 的分布式锁实现方式有哪些？", available=["none", "cross-encoder"], n_candidates=20,
                 constrained_only=["cross-encoder"])
    assert neg.strategy == "cross-encoder"


def test_cjk_characters_become_tokens_of_their_own():
    from sentence_transformers import CrossEncoder

    from assistant.models.st_embedder import bundled_minilm_path
    from assistant.train.vocab import common_cjk_chars, extend_with_cjk

    chars = common_cjk_chars(3000)
    assert chars == common_cjk_chars(3000) and "的" in chars[:30] and "锁" in chars
    model = CrossEncoder(str(bundled_minilm_path()), num_labels=1, max_length=64, device="cpu")
    unk, old = model.tokenizer.unk_token_id, len(model.tokenizer)
    assert unk in model.tokenizer("分布式锁")["input_ids"]
    added = extend_with_cjk(model, 3000)
    assert added > 2000
    ids = model.tokenizer("分布式锁", add_special_tokens=False)["input_ids"]
    assert len(ids) == 4 and unk not in ids and len(set(ids)) == 4 and max(ids) >= old
    assert model.model.get_input_embeddings().weight.shape[0] == len(model.tokenizer)
    assert model.predict([("分布式锁", "锁的实现")]).shape == (1,)
