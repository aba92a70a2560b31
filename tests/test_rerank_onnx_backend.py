"""The cross-encoder's ONNX Runtime backend: export, offline load, scores against torch, the export cache, fallback.

A tiny BERT cross-encoder (2 layers, random but seeded weights, the bundled MiniLM tokenizer) keeps the export to a
second or two; what is checked is the plumbing, which does not depend on the model's size.
"""
from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest

from assistant.db import rerank_cache
from assistant.models.st_embedder import bundled_minilm_path
from assistant.rerank import onnx_backend
from assistant.rerank.cross_encoder import ModelChoice, load_model, resolve_model
from assistant.rerank.registry import build_reranker
from assistant.services import Services
from assistant.settings import Settings, SettingsError
from tests.test_rerank_cross_encoder import CANDS, QUERY

pytest.importorskip("onnxruntime")

MAXLEN = 64
PAIRS = [(QUERY, c.text) for c in CANDS]


def _save_tiny(directory, seed: int):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_minilm_path()))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.fixture
def tiny(tmp_path):
    return _save_tiny(tmp_path / "tiny-ce", seed=0)


def _choice(tiny) -> ModelChoice:
    return resolve_model(Settings(cross_encoder=str(tiny), data_dir=tiny.parent / "data"))


def _no_torch():
    raise AssertionError("the torch model was loaded although a current export exists")


def test_export_then_load_offline_without_torch(tiny):
    choice = _choice(tiny)
    calls = []

    def loader():
        calls.append(1)
        return load_model(choice, MAXLEN)

    first = onnx_backend.load(choice, MAXLEN, "onnx", tiny.parent / "data", loader)
    assert first.backend in ("onnx-int8", "onnx-fp32") and calls == [1]
    manifest = json.loads((tiny / "onnx" / "export.json").read_text())
    assert manifest["weights"] == onnx_backend.weights_key(choice) and manifest["max_length"] == MAXLEN
    assert (tiny / "onnx" / "model.onnx").is_file() and (tiny / "onnx" / "model.int8.onnx").is_file()
    # int8 is served exactly when its measured agreement holds.
    assert (first.backend == "onnx-int8") == (manifest["int8_top10_agreement"] >= onnx_backend.MIN_INT8_AGREEMENT)
    again = onnx_backend.load(choice, MAXLEN, "onnx", tiny.parent / "data", _no_torch)
    assert again.backend == first.backend
    assert np.allclose(again.model.predict(PAIRS), first.model.predict(PAIRS))


def test_fp32_export_scores_like_torch(tiny):
    choice = _choice(tiny)
    torch_model = load_model(choice, MAXLEN)
    onnx_backend.load(choice, MAXLEN, "onnx", tiny.parent / "data", lambda: torch_model)
    fp32 = onnx_backend.OrtCrossEncoder(tiny / "onnx" / "model.onnx", tiny / "onnx" / "tokenizer", MAXLEN, "sigmoid")
    want = torch_model.predict(PAIRS, show_progress_bar=False)
    got = fp32.predict(PAIRS, batch_size=3)
    assert got.shape == (len(PAIRS),)
    assert np.abs(got - want).max() < 1e-4
    assert list(np.argsort(-got)) == list(np.argsort(-want))


def test_export_rebuilt_when_weights_change(tiny):
    data = tiny.parent / "data"
    before = _choice(tiny)
    onnx_backend.load(before, MAXLEN, "onnx", data, lambda: load_model(before, MAXLEN))
    old = json.loads((tiny / "onnx" / "export.json").read_text())["weights"]
    _save_tiny(tiny, seed=1)  # retrained under the same name
    after = _choice(tiny)
    assert after.model_id != before.model_id
    with pytest.raises(AssertionError):  # stale export refused: it must export again, which needs torch
        onnx_backend.load(after, MAXLEN, "onnx", data, _no_torch)
    torch_model = load_model(after, MAXLEN)
    fresh = onnx_backend.load(after, MAXLEN, "onnx", data, lambda: torch_model)
    assert json.loads((tiny / "onnx" / "export.json").read_text())["weights"] not in (old, None)
    fp32 = onnx_backend.OrtCrossEncoder(tiny / "onnx" / "model.onnx", tiny / "onnx" / "tokenizer", MAXLEN, "sigmoid")
    assert np.abs(fp32.predict(PAIRS) - torch_model.predict(PAIRS, show_progress_bar=False)).max() < 1e-4
    assert fresh.backend.startswith("onnx-")


def test_house_export_lives_in_the_data_dir_keyed_by_the_card(tmp_path):
    card = {"files": {"model.safetensors": "a" * 64}}
    house = ModelChoice("/site-packages/assistant/rerank/house_model", "house@x", "house", card)
    where = onnx_backend.export_dir(house, tmp_path)
    assert where.is_relative_to(tmp_path) and where.name == f"house-{onnx_backend.weights_key(house)}"
    changed = ModelChoice(house.target, house.model_id, "house", {"files": {"model.safetensors": "b" * 64}})
    assert onnx_backend.export_dir(changed, tmp_path) != where


def test_backend_is_part_of_the_score_cache_key(settings, db, fake_embedder, tiny):
    def reranker(backend):
        services = Services(settings.replace(cross_encoder=str(tiny), cross_encoder_max_length=MAXLEN,
                                             cross_encoder_backend=backend), db=db, embedder=fake_embedder)
        return build_reranker("cross-encoder", services)

    on_torch, on_onnx = reranker("torch"), reranker("onnx")
    assert on_torch.model_id == _choice(tiny).model_id
    assert on_onnx.model_id.startswith(on_torch.model_id + "+onnx-")
    on_torch.rerank(QUERY, CANDS)
    second = on_onnx.rerank(QUERY, CANDS)
    assert second.trace.cache_hits == 0 and second.trace.scored >= len(CANDS)  # torch's scores not reused
    with db.connection() as conn:
        assert rerank_cache.count(conn, on_torch.model_id) >= len(CANDS)
        assert rerank_cache.count(conn, on_onnx.model_id) == rerank_cache.count(conn, on_torch.model_id)


def test_missing_onnxruntime_falls_back_to_torch_with_one_line(tiny, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an install without it looks like to import
    choice = _choice(tiny)
    with caplog.at_level(logging.WARNING, logger="assistant.rerank.onnx_backend"):
        loaded = onnx_backend.load(choice, MAXLEN, "onnx", tiny.parent / "data", lambda: load_model(choice, MAXLEN))
    assert loaded.backend == "torch" and hasattr(loaded.model, "predict")
    assert len(caplog.records) == 1 and "onnxruntime" in caplog.records[0].getMessage()
    assert not (tiny / "onnx").exists()
    auto = onnx_backend.load(choice, MAXLEN, "auto", tiny.parent / "data", lambda: load_model(choice, MAXLEN))
    assert auto.backend == "torch"


def test_the_setting_is_validated():
    with pytest.raises(SettingsError, match="cross_encoder_backend|CROSS_ENCODER_BACKEND"):
        Settings.load(env={"ASSISTANT_CROSS_ENCODER_BACKEND": "tensorrt"})
    assert Settings.load(env={"ASSISTANT_CROSS_ENCODER_BACKEND": "onnx"}).cross_encoder_backend == "onnx"


def test_onnx_serves_int8_only_where_the_export_kept_the_ranking(tiny):
    choice = _choice(tiny)
    torch_model = load_model(choice, MAXLEN)
    loaded = onnx_backend.load(choice, MAXLEN, "onnx", tiny.parent / "data", lambda: torch_model)
    agreement = json.loads((tiny / "onnx" / "export.json").read_text())["int8_top10_agreement"]
    assert loaded.backend == ("onnx-int8" if agreement >= onnx_backend.MIN_INT8_AGREEMENT else "onnx-fp32")


def test_auto_is_openvino_where_installed_else_torch_with_no_export(tiny):
    choice = _choice(tiny)
    torch_model = load_model(choice, MAXLEN)
    loaded = onnx_backend.load(choice, MAXLEN, "auto", tiny.parent / "data", lambda: torch_model)
    if onnx_backend.installed("openvino"):
        assert loaded.backend == "openvino-fp32"
        got, want = loaded.model.predict(PAIRS), torch_model.predict(PAIRS, show_progress_bar=False)
        assert np.abs(got - want).max() < 1e-4
    else:
        assert loaded.backend == "torch" and not (tiny / "onnx").exists()


def test_a_model_just_trained_is_exported_for_the_backend_that_will_serve_it(tiny):
    choice = _choice(tiny)
    data = tiny.parent / "data"
    assert onnx_backend.prepare(choice, MAXLEN, "torch", data, _no_torch) is None
    if not onnx_backend.installed("openvino"):
        assert onnx_backend.prepare(choice, MAXLEN, "auto", data, _no_torch) is None
    assert not (tiny / "onnx").exists()
    directory = onnx_backend.prepare(choice, MAXLEN, "onnx", data, lambda: load_model(choice, MAXLEN))
    assert directory == tiny / "onnx" and (directory / "export.json").is_file()
    # The first question then loads the export, not the torch model.
    assert onnx_backend.load(choice, MAXLEN, "onnx", data, _no_torch).backend.startswith("onnx-")
