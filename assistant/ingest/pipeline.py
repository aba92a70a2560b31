"""Ingest: walk paths, load, chunk, embed (batched, cached by content hash), write one document per transaction.

A crash or Ctrl-C loses at most the documents in flight: each document's rows change in a single transaction, so
the next run sees their old hash (or none) and does them again; nothing is duplicated.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from assistant.db import store
from assistant.ingest.chunker import Chunk, chunk_sections
from assistant.ingest.loaders import SUPPORTED, BadFile, LoadedDocument, load
from assistant.textsearch import index_text


@dataclass(frozen=True)
class StoredChunk:
    ord: int
    heading: str
    text: str
    tokens: int
    sha256: str


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    """Chunks embedded now (the rest came from the embedding cache)."""

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.skipped)} skipped; {self.chunks} chunks written ({self.embedded} embedded)")


Progress = Callable[[int, int, str], None]
"""on_progress(done, total, current source)."""


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest under the given paths (hidden files skipped), and the paths that are not usable."""
    found: list[Path] = []
    bad: list[tuple[str, str]] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    f = Path(root) / name
                    if not name.startswith(".") and f.suffix.lower() in SUPPORTED:
                        _add(f, found, bad)
        elif p.is_file():
            _add(p, found, bad)
        elif p.is_symlink():
            bad.append((str(p), _broken_link(p)))
        else:
            bad.append((str(p), "no such file or directory"))
    return list(dict.fromkeys(found)), bad


def prune_missing(db, folders: Iterable[Path]) -> list[str]:
    """Remove the documents inside these folders whose files are gone (deleted, renamed or moved); their sources."""
    gone: list[str] = []
    with db.connection() as conn:
        for folder in folders:
            gone += [s for s in store.sources_under(conn, str(Path(folder).expanduser().resolve()))
                     if not os.path.lexists(s)]
        if gone:
            store.delete_documents(conn, gone)
    return gone


def forget(db, paths: Iterable[Path]) -> list[str]:
    """Remove the documents of these files, or of every file inside these folders; returns their sources."""
    removed: list[str] = []
    with db.connection() as conn:
        for p in paths:
            sources = store.sources_under(conn, str(Path(p).expanduser().absolute().resolve()))
            if sources:
                store.delete_documents(conn, sources)
                removed += sources
    return removed


def _broken_link(p: Path) -> str:
    try:
        p.resolve(strict=True)
    except RuntimeError:
        return "symlink loop"
    except OSError:
        return "broken symlink (its target does not exist)"
    return "not a regular file"


def _add(f: Path, found: list[Path], bad: list[tuple[str, str]]) -> None:
    # One bad link is one skipped file, never the end of the whole ingest.
    try:
        if f.is_symlink() and not f.exists():
            bad.append((str(f), _broken_link(f)))
            return
        found.append(f.resolve(strict=True))
    except RuntimeError:
        bad.append((str(f), "symlink loop"))
    except OSError as exc:
        bad.append((str(f), f"cannot be read: {exc.strerror or exc}"))


def embed_text(title: str, chunk: Chunk | StoredChunk) -> str:
    """What the embedder sees: the chunk with its document title and heading, which carry its topic."""
    head = f"{title} — {chunk.heading}" if chunk.heading and chunk.heading != title else title
    return f"{head}\n{chunk.text}" if head else chunk.text


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Ingestor:
    """Writes documents into one schema with one embedder, binding the embedder to the index on first use."""

    def __init__(self, db, embedder, settings, group: int = 64):
        self.db, self.embedder, self.settings, self.group = db, embedder, settings, group
        with db.connection() as conn:
            store.bind_embedder(conn, embedder.model_id, embedder.dim, db.schema)

    def ingest_paths(self, paths: Iterable[Path], on_progress: Progress | None = None) -> IngestReport:
        files, bad = discover(paths)
        report = IngestReport(skipped=list(bad))
        max_bytes = int(self.settings.max_file_mb * 1e6)

        def loaded() -> Iterator[LoadedDocument | None]:
            for f in files:
                try:
                    yield load(f, max_bytes)
                except BadFile as exc:
                    report.skipped.append((str(f), str(exc)))
                    yield None

        self._run(loaded(), len(files), report, on_progress)
        return report

    def ingest_documents(self, docs: Iterable[LoadedDocument], total: int,
                         on_progress: Progress | None = None) -> IngestReport:
        """Ingest documents that did not come from files (evaluation corpora)."""
        report = IngestReport()
        self._run(iter(docs), total, report, on_progress)
        return report

    def _run(self, docs: Iterator[LoadedDocument | None], total: int, report: IngestReport,
             on_progress: Progress | None) -> None:
        done = 0
        batch: list[LoadedDocument] = []
        for doc in docs:
            if doc is not None:
                batch.append(doc)
            else:
                done += 1
            if len(batch) >= self.group:
                done = self._flush(batch, report, done, total, on_progress)
                batch = []
            elif doc is None and on_progress:
                on_progress(done, total, "")
        if batch:
            self._flush(batch, report, done, total, on_progress)

    def _flush(self, batch: list[LoadedDocument], report: IngestReport, done: int, total: int,
               on_progress: Progress | None) -> int:
        with self.db.connection() as conn:
            states = {doc.source: store.document_state(conn, doc.source) for doc in batch}
        # Small documents first, chunked and embedded in slices of a few batches, each slice written (committed)
        # before the next: one huge file never holds back the small ones beside it, and Ctrl-C loses at most
        # the slice in progress.
        limit = max(4 * self.settings.embed_batch, 64)
        written, slice_ = 0, []
        for doc in sorted(batch, key=lambda d: sum(len(sec.text) for sec in d.sections)):
            state = states[doc.source]
            if state is not None and state[1] == doc.sha256 and state[2] > 0:
                report.unchanged.append(doc.source)
                continue
            raw = chunk_sections(doc.sections, self.embedder.count_tokens, self.settings.chunk_tokens,
                                 self.settings.chunk_overlap)
            if not raw:
                report.skipped.append((doc.source, "no text after chunking"))
                continue
            chunks = [StoredChunk(c.ord, c.heading, c.text, c.tokens, _sha(embed_text(doc.title, c))) for c in raw]
            if slice_ and sum(len(c) for _, c, _ in slice_) + len(chunks) > limit:
                done = self._write(slice_, report, done, total, on_progress)
                written += len(slice_)
                slice_ = []
            slice_.append((doc, chunks, "added" if state is None else "updated"))
        if slice_:
            done = self._write(slice_, report, done, total, on_progress)
            written += len(slice_)
        done += len(batch) - written
        if on_progress:
            on_progress(done, total, "")
        return done

    def _write(self, items: list[tuple[LoadedDocument, list[StoredChunk], str]], report: IngestReport, done: int,
               total: int, on_progress: Progress | None) -> int:
        vectors = self._embed([(doc.title, ch) for doc, chunks, _ in items for ch in chunks], report)
        for doc, chunks, kind in items:
            embs = np.stack([vectors[c.sha256] for c in chunks])
            fts = [index_text(f"{c.heading}\n{c.text}") for c in chunks]
            with self.db.connection() as conn:
                store.replace_document(conn, source=doc.source, title=doc.title, sha256=doc.sha256, meta=doc.meta,
                                       chunks=chunks, embeddings=embs, fts=fts)
            (report.added if kind == "added" else report.updated).append(doc.source)
            report.chunks += len(chunks)
            done += 1
            if on_progress:
                on_progress(done, total, doc.source)
        return done

    def _embed(self, items: Sequence[tuple[str, StoredChunk]], report: IngestReport) -> dict[str, np.ndarray]:
        shas = list(dict.fromkeys(ch.sha256 for _, ch in items))
        model = self.embedder.model_id
        with self.db.connection() as conn:
            have = store.cached_embeddings(conn, model, shas)
        missing = [(t, ch) for t, ch in {ch.sha256: (t, ch) for t, ch in items}.values() if ch.sha256 not in have]
        step = max(1, self.settings.embed_batch)
        for i in range(0, len(missing), step):
            part = missing[i:i + step]
            vecs = self.embedder.embed_batch([embed_text(t, ch) for t, ch in part])
            new = {ch.sha256: v for (_, ch), v in zip(part, vecs)}
            # Cached at once, so an interrupted run does not pay for these embeddings again.
            with self.db.connection() as conn:
                store.store_embeddings(conn, model, new)
            have.update(new)
            report.embedded += len(part)
        return have
