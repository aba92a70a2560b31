"""A small knowledge base for a test: files written to a folder and ingested through the real Ingestor."""
from pathlib import Path

from assistant.ingest.pipeline import Ingestor


def ingest_texts(db, embedder, settings, folder: Path, docs: dict[str, str]) -> Path:
    """Write {file name: text} into folder (created if missing) and ingest the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    Ingestor(db, embedder, settings).ingest_paths([folder])
    return folder
