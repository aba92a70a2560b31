import subprocess
import sys

import numpy as np
import pytest

from assistant.db import Database, DatabaseError, open_database
from assistant.db import store
from assistant.db.migrate import applied, migrate, migration_files
from assistant.settings import Settings


def test_blank_migrate_creates_schema_and_records_it(pg_url):
    db = Database(pg_url, "t_blank_migrate")
    try:
        first = migrate(db)
        assert first == [p.name for p in migration_files()]
        assert migrate(db) == []  # idempotent
        assert applied(db) == first
        with db.connection() as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (db.schema,))}
        assert {"documents", "chunks", "index_meta", "runs", "run_candidates", "rerank_cache"} <= tables
    finally:
        with db.connection() as conn:
            conn.execute("DROP SCHEMA t_blank_migrate CASCADE")
        db.close()


def test_upgrade_applies_only_new_migrations(pg_url, tmp_path):
    files = migration_files()
    old = tmp_path / "old"
    old.mkdir()
    (old / files[0].name).write_text(files[0].read_text())
    db = Database(pg_url, "t_upgrade")
    try:
        assert migrate(db, old) == [files[0].name]
        with db.connection() as conn:
            conn.execute("INSERT INTO documents (source, content_sha256) VALUES ('a.md', 'x')")
        assert migrate(db) == [p.name for p in files[1:]]
        with db.connection() as conn:  # data written under the old schema survives the upgrade
            assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 1
    finally:
        with db.connection() as conn:
            conn.execute("DROP SCHEMA t_upgrade CASCADE")
        db.close()


def test_failed_migration_rolls_back(pg_url, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "0001_ok.sql").write_text("CREATE TABLE a (x int);")
    (bad / "0002_broken.sql").write_text("CREATE TABLE b (x int); SELECT * FROM no_such_table;")
    db = Database(pg_url, "t_badmig")
    try:
        with pytest.raises(Exception):
            migrate(db, bad)
        assert applied(db) == ["0001_ok.sql"]
        with db.connection() as conn:
            assert conn.execute("SELECT to_regclass('t_badmig.b')").fetchone()[0] is None
    finally:
        with db.connection() as conn:
            conn.execute("DROP SCHEMA t_badmig CASCADE")
        db.close()


def test_unreachable_database_url_gives_clear_error(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/nothing")
    with pytest.raises(DatabaseError) as err:
        open_database(settings)
    msg = str(err.value)
    assert "cannot reach the database" in msg and "DATABASE_URL" in msg


def test_second_embedding_model_is_refused(db):
    with db.connection() as conn:
        assert store.bind_embedder(conn, "model-a", 8, db.schema) is True
        assert store.bind_embedder(conn, "model-a", 8, db.schema) is False
    with db.connection() as conn:
        with pytest.raises(store.EmbedderMismatch, match="model-a"):
            store.bind_embedder(conn, "model-b", 16, db.schema)


def test_embedded_server_is_reused_by_a_second_process(tmp_path):
    """Two processes on one data directory share one server (the second attaches)."""
    pgdata = tmp_path / "pg"
    code = ("import sys; from assistant.db.server import embedded_server; s = embedded_server(sys.argv[1]); "
            "import psycopg; c = psycopg.connect(s.get_uri()); print(c.execute('select 1').fetchone()[0])")
    first = subprocess.Popen([sys.executable, "-c", code + "; import time; time.sleep(4)", str(pgdata)],
                             stdout=subprocess.PIPE, text=True)
    import time
    time.sleep(2.5)
    second = subprocess.run([sys.executable, "-c", code, str(pgdata)], capture_output=True, text=True, timeout=60)
    out, _ = first.communicate(timeout=60)
    assert out.strip() == "1" and second.stdout.strip() == "1", second.stderr
