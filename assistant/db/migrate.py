"""Numbered .sql files applied in order, each in a transaction, recorded in schema_migrations."""
from __future__ import annotations

from pathlib import Path

from assistant.paths import resource_dir

_LOCK_KEY = 0x52524B41  # advisory lock: two processes starting at once must not both migrate


def migration_files(directory: Path | None = None) -> list[Path]:
    directory = directory or resource_dir("migrations")
    files = sorted(p for p in directory.glob("*.sql") if p.name[:4].isdigit())
    names = [p.name[:4] for p in files]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two migrations share a number in {directory}: {names}")
    return files


def applied(db) -> list[str]:
    with db.connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(db, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    done = set(applied(db))
    newly: list[str] = []
    for path in migration_files(directory):
        if path.name in done:
            continue
        with db.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            # Another process may have applied it while we waited for the lock.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = %s", (path.name,)).fetchone():
                continue
            conn.execute(path.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
        newly.append(path.name)
    return newly
