"""An index built by one embedder, searched with another: one clear message and exit 2 from search and ask, as
ingest already gave (issue 17, item 6), never a pgvector dimension error."""
from __future__ import annotations

import pytest

from assistant.cli import main
from tests.kb import ingest_texts
from tests.test_runs_cli import cli_env  # noqa: F401 - the fixture


@pytest.mark.parametrize("argv", [["search", "which lock"], ["search", "which lock", "--rerank", "none"],
                                  ["ask", "which lock", "--rerank", "none"]])
def test_search_and_ask_on_an_index_of_another_embedder(cli_env, db, fake_embedder, tmp_path, capsys,  # noqa: F811
                                                        monkeypatch, argv):
    ingest_texts(db, fake_embedder, cli_env, tmp_path / "docs", {"zk.md": "# ZooKeeper lock\n\nEphemeral znodes."})
    monkeypatch.setenv("ASSISTANT_EMBEDDER", "minilm")
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "was indexed with fake/hash-bow" in err and "ASSISTANT_EMBEDDER" in err
    assert "different vector dimensions" not in err and "Traceback" not in err
