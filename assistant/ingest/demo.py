"""The bundled demo knowledge base, ingested the first time the product meets an empty database."""
from __future__ import annotations

from assistant.db import store
from assistant.paths import demo_kb_dir


def is_empty(db) -> bool:
    with db.connection() as conn:
        return store.counts(conn)[0] == 0


def ensure_demo(db, ingestor, on_progress=None):
    """Ingest the demo knowledge base into an empty database; returns the report, or None if nothing was done."""
    if not is_empty(db):
        return None
    return ingestor.ingest_paths([demo_kb_dir()], on_progress)
