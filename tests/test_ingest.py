from pathlib import Path

import numpy as np
import pytest

from assistant.db import store
from assistant.ingest.chunker import chunk_sections, split_sentences
from assistant.ingest.loaders import BadFile, Section, load
from assistant.ingest.pipeline import Ingestor
from tests.fakes import FakeEmbedder
from tests.pdfmaker import make_pdf

MD = """# Lock guide

Intro paragraph about locks.

## ZooKeeper

ZooKeeper uses ephemeral sequential znodes. The lowest sequence number holds the lock.

- list item one
- list item two

## etcd

etcd grants a lease and the lock key is attached to it.
"""


def write(tmp_path: Path, name: str, data) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


def chunk_rows(db):
    with db.connection() as conn:
        return conn.execute("SELECT d.source, c.ord, c.heading, c.text FROM chunks c JOIN documents d "
                            "ON d.id = c.document_id ORDER BY d.source, c.ord").fetchall()


def test_markdown_sections_follow_headings(tmp_path):
    doc = load(write(tmp_path, "a.md", MD), 10**6)
    assert doc.title == "Lock guide"
    heads = [s.heading for s in doc.sections]
    assert heads == ["Lock guide", "Lock guide > ZooKeeper", "Lock guide > etcd"]
    assert "list item two" in doc.sections[1].text


def test_html_and_text_and_pdf_loaders(tmp_path):
    html = ("<html><head><title>Consul locks</title><script>var x=1;</script></head><body>"
            "<h1>Consul</h1><p>Sessions guard the KV key.</p><h2>Lock delay</h2><p>Default 15 s.</p></body></html>")
    d = load(write(tmp_path, "c.html", html), 10**6)
    assert d.title == "Consul locks"
    assert [s.heading for s in d.sections] == ["Consul", "Consul > Lock delay"]
    assert "var x" not in " ".join(s.text for s in d.sections)
    t = load(write(tmp_path, "t.txt", "Plain notes\n\nSecond paragraph."), 10**6)
    assert t.title == "Plain notes" and "Second paragraph." in t.sections[0].text
    p = load(write(tmp_path, "p.pdf", make_pdf(["Advisory locks in Postgres.", "pg_try_advisory_lock"],
                                              title="PG locks")), 10**6)
    assert p.title == "PG locks" and "advisory" in p.sections[0].text.lower()


@pytest.mark.parametrize("name,data,reason", [
    ("empty.md", b"", "empty"),
    ("bin.txt", b"abc\x00\x01\x02def", "binary"),
    ("latin1.md", "caf\u00e9 cr\u00e8me".encode("latin-1"), "UTF-8"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage", "PDF"),
    ("notpdf.pdf", b"hello there", "not a PDF"),
    ("image.png", b"\x89PNG\r\n", "unsupported"),
    ("blank.md", "   \n\n  ", "no text"),
])
def test_bad_files_are_rejected_with_reason(tmp_path, name, data, reason):
    with pytest.raises(BadFile, match=reason):
        load(write(tmp_path, name, data), 10**6)


def test_huge_file_is_rejected(tmp_path):
    with pytest.raises(BadFile, match="too large"):
        load(write(tmp_path, "big.txt", "x" * 5000), 1000)


def test_chunker_respects_budget_overlap_and_chinese():
    count = lambda s: len(FakeEmbedder().tokenize(s))  # noqa: E731
    zh = "分布式锁用于协调多个进程。" * 30 + "基于 ZooKeeper 的锁使用临时顺序节点！"
    chunks = chunk_sections([Section("锁", zh)], count, size=40, overlap=8)
    assert len(chunks) > 3
    assert all(c.tokens <= 40 for c in chunks)
    assert all(c.text.endswith(("。", "！")) for c in chunks)  # cut at sentence ends
    assert " " not in chunks[0].text.replace("ZooKeeper ", "")  # no spaces forced between CJK sentences
    # overlap: each chunk after the first starts with the tail of the previous one
    assert chunks[1].text.split("。")[0] in chunks[0].text
    assert split_sentences("One. Two! 三。四？") == ["One.", "Two!", "三。", "四？"]


def test_ingest_each_format_then_unchanged_is_noop(db, settings, tmp_path):
    docs = tmp_path / "kb"
    write(docs, "a.md", MD)
    write(docs, "b.html", "<html><body><h1>B</h1><p>Redis SET NX PX lock.</p></body></html>")
    write(docs, "c.txt", "Database row locks with SELECT FOR UPDATE.")
    write(docs, "d.pdf", make_pdf(["Consul session based locking."]))
    write(docs, "sub/e.md", "# 中文\n\n基于 etcd 的分布式锁使用租约。")
    emb = FakeEmbedder()
    ing = Ingestor(db, emb, settings)
    r1 = ing.ingest_paths([docs])
    assert len(r1.added) == 5 and not r1.skipped, r1.skipped
    rows = chunk_rows(db)
    assert {Path(r[0]).name for r in rows} == {"a.md", "b.html", "c.txt", "d.pdf", "e.md"}
    calls = len(emb.calls)
    r2 = ing.ingest_paths([docs])
    assert len(r2.unchanged) == 5 and not r2.added and not r2.updated and r2.chunks == 0
    assert len(emb.calls) == calls  # nothing embedded again
    assert chunk_rows(db) == rows


def test_changed_file_replaces_its_chunks(db, settings, tmp_path):
    p = write(tmp_path, "doc.md", MD)
    ing = Ingestor(db, FakeEmbedder(), settings)
    ing.ingest_paths([p])
    write(tmp_path, "doc.md", "# Lock guide\n\nNow only about Consul sessions.")
    r = ing.ingest_paths([p])
    assert r.updated == [str(p.resolve())]
    texts = [row[3] for row in chunk_rows(db)]
    assert texts == ["Now only about Consul sessions."]
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 1


class InterruptingEmbedder(FakeEmbedder):
    """Simulates Ctrl-C after a number of embedding batches."""

    def __init__(self, batches: int):
        super().__init__()
        self.left = batches

    def embed_batch(self, texts):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return super().embed_batch(texts)


def test_interrupted_ingest_resumes_without_duplicates(db, settings, tmp_path):
    kb = tmp_path / "kb"
    for i in range(6):
        write(kb, f"d{i}.md", f"# Doc {i}\n\nDocument number {i} talks about lock variant {i}.")
    s = settings.replace(embed_batch=1)
    with pytest.raises(KeyboardInterrupt):
        Ingestor(db, InterruptingEmbedder(batches=3), s, group=2).ingest_paths([kb])
    with db.connection() as conn:
        partial = store.counts(conn)
    assert 0 < partial[0] < 6
    report = Ingestor(db, FakeEmbedder(), s, group=2).ingest_paths([kb])
    assert len(report.unchanged) == partial[0]
    with db.connection() as conn:
        assert store.counts(conn) == (6, 6)
        dup = conn.execute("SELECT count(*) FROM (SELECT content_sha256 FROM chunks GROUP BY 1 HAVING count(*) > 1) x")
        assert dup.fetchone()[0] == 0


def test_bad_files_are_skipped_and_batch_goes_on(db, settings, tmp_path):
    kb = tmp_path / "kb"
    write(kb, "good.md", "# Good\n\nA fine document.")
    write(kb, "empty.txt", b"")
    write(kb, "bad.pdf", b"%PDF-1.4 nonsense")
    write(kb, "latin.txt", "\xe9t\xe9".encode("latin-1"))
    r = Ingestor(db, FakeEmbedder(), settings).ingest_paths([kb, tmp_path / "missing"])
    assert [Path(p).name for p in r.added] == ["good.md"]
    reasons = {Path(p).name: why for p, why in r.skipped}
    assert set(reasons) == {"empty.txt", "bad.pdf", "latin.txt", "missing"}
    assert "empty" in reasons["empty.txt"] and "UTF-8" in reasons["latin.txt"]
