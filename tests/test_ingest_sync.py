"""Ingesting a folder syncs it: documents whose files are gone are removed (with a count), `--no-prune` keeps
them, and `assistant forget` removes documents explicitly; the run log keeps its history (issue 17, item 4)."""
from __future__ import annotations

from assistant.cli import main
from assistant.db import store
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from tests.fakes import FakeCompleter
from tests.test_runs_cli import cli_env  # noqa: F401 - the fixture


def _sources(db):
    with db.connection() as conn:
        return sorted(r[0].rsplit("/", 1)[-1] for r in conn.execute("SELECT source FROM documents").fetchall())


def test_ingest_prunes_deleted_and_renamed_files(cli_env, db, tmp_path, capsys, monkeypatch):  # noqa: F811
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("# Alpha\n\nAlpha locks use fencing tokens.")
    (kb / "b.md").write_text("# Beta\n\nBeta locks use leases.")
    (tmp_path / "other.md").write_text("# Other\n\nOutside the folder.")
    assert main(["ingest", str(kb), str(tmp_path / "other.md")]) == 0
    assert _sources(db) == ["a.md", "b.md", "other.md"]

    services = Services(cli_env.replace(recall_k=3, context_k=3), completer=FakeCompleter(["Alpha [1]."]))
    run = ask("alpha fencing tokens", AskOptions(strategy="none"), services)
    services.close()

    (kb / "a.md").unlink()
    (kb / "b.md").rename(kb / "c.md")
    assert main(["ingest", str(kb), "--no-prune"]) == 0
    assert _sources(db) == ["a.md", "b.md", "c.md", "other.md"]
    capsys.readouterr()
    assert main(["ingest", str(kb)]) == 0
    assert "removed 2 document(s) whose files are gone" in " ".join(capsys.readouterr().out.split())
    assert _sources(db) == ["c.md", "other.md"]  # the file outside the folder is not touched

    assert main(["runs", "show", str(run.id)]) == 0  # history survives its chunks
    shown = capsys.readouterr().out
    assert "alpha fencing tokens" in shown and "chunk no longer in the knowledge base" in shown

    assert main(["forget", str(kb / "c.md")]) == 0
    assert _sources(db) == ["other.md"]
    assert main(["forget", str(kb)]) == 1  # nothing left there
    with db.connection() as conn:
        assert store.counts(conn)[0] == 1
