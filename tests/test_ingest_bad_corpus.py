"""The bad input corpus: one batch of good files beside symlink loops, broken links, an oversized file, empty,
binary and broken PDF files, and one huge document. Every good file is saved exactly once, every bad one is
reported with a reason, and the huge one never holds back the others (issue 17, items 2 and 8)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.db import store
from assistant.ingest.pipeline import Ingestor, discover
from tests.fakes import FakeEmbedder

GOOD = {f"good{i}.md": f"# Good {i}\n\nA fine document number {i} about lock variant {i}." for i in range(5)}


class StopAtHuge(FakeEmbedder):
    """Ctrl-C while the huge document is being embedded."""

    def embed_batch(self, texts):
        if any("HUGE" in t for t in texts):
            raise KeyboardInterrupt
        return super().embed_batch(texts)


def _corpus(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, text in GOOD.items():
        (kb / name).write_text(text, encoding="utf-8")
    (kb / "empty.txt").write_bytes(b"")
    (kb / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (kb / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    (kb / "big.txt").write_text("word " * 40_000, encoding="utf-8")  # 0.2 MB: over the 0.1 MB cap below
    os.symlink(kb / "loop_b.md", kb / "loop_a.md")
    os.symlink(kb / "loop_a.md", kb / "loop_b.md")
    os.symlink(kb / "gone.md", kb / "dangling.md")
    return kb


def test_bad_corpus_ingests_in_one_batch(db, settings, tmp_path):
    kb = _corpus(tmp_path)
    files, bad = discover([kb])
    assert {Path(p).name: why for p, why in bad} == {"loop_a.md": "symlink loop", "loop_b.md": "symlink loop",
                                                     "dangling.md": "broken symlink (its target does not exist)"}
    report = Ingestor(db, FakeEmbedder(), settings.replace(max_file_mb=0.1)).ingest_paths([kb])
    assert sorted(Path(p).name for p in report.added) == sorted(GOOD)
    skipped = {Path(p).name: why for p, why in report.skipped}
    assert set(skipped) == {"loop_a.md", "loop_b.md", "dangling.md", "empty.txt", "binary.txt", "broken.pdf",
                            "big.txt"}
    assert "ASSISTANT_MAX_FILE_MB" in skipped["big.txt"]
    with db.connection() as conn:
        assert store.counts(conn)[0] == len(GOOD)
    again = Ingestor(db, FakeEmbedder(), settings.replace(max_file_mb=0.1)).ingest_paths([kb])
    assert len(again.unchanged) == len(GOOD) and not again.added


def test_a_symlink_loop_given_by_name_is_skipped_not_fatal(db, settings, tmp_path):
    kb = _corpus(tmp_path)
    report = Ingestor(db, FakeEmbedder(), settings).ingest_paths([kb / "loop_a.md", kb / "good0.md"])
    assert [Path(p).name for p in report.added] == ["good0.md"]
    assert [(Path(p).name, why) for p, why in report.skipped] == [("loop_a.md", "symlink loop")]


def test_a_huge_document_does_not_hold_back_the_small_ones(db, settings, tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a_huge.md").write_text("# HUGE\n\n" + " ".join(f"HUGE sentence {i}." for i in range(3000)), encoding="utf-8")
    for name, text in GOOD.items():
        (kb / name).write_text(text, encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        Ingestor(db, StopAtHuge(), settings, group=64).ingest_paths([kb])
    with db.connection() as conn:
        assert store.counts(conn)[0] == len(GOOD)  # saved before the huge one was reached
