"""Two clients of one database at once, as a team on a shared Postgres works: two pools (two processes' worth)
ingest into the same schema concurrently and both see every document exactly once. CI also runs this over TCP
with password auth and a non-superuser role (TEST_DATABASE_URL, see .ci/run)."""
from __future__ import annotations

import threading

from assistant.db import Database, store
from assistant.ingest.pipeline import Ingestor
from assistant.recall import Recaller
from tests.fakes import FakeEmbedder


def test_two_clients_ingest_and_recall_at_once(pg_url, db, settings, tmp_path):
    other = Database(pg_url, db.schema, max_size=2)
    folders = []
    for side in ("a", "b"):
        folder = tmp_path / side
        folder.mkdir()
        for i in range(8):
            (folder / f"{side}{i}.md").write_text(f"# {side} {i}\n\nLock note {side}{i} about leases and fencing.")
        folders.append(folder)
    errors: list[BaseException] = []

    def work(database, folder):
        try:
            Ingestor(database, FakeEmbedder(), settings).ingest_paths([folder])
            Recaller(database, FakeEmbedder()).recall("leases and fencing", 5, "hybrid")
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d, f)) for d, f in ((db, folders[0]), (other, folders[1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        with db.connection() as conn:
            assert store.counts(conn) == (16, 16)
        with other.connection() as conn:
            assert store.counts(conn) == (16, 16)
            assert store.index_meta(conn)["embed_model"] == "fake/hash-bow"
    finally:
        other.close()
