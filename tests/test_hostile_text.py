"""Text that looks like Rich markup or carries terminal escapes is data: printed as written, never interpreted,
and never crashes search or the run log (issue 17, item 1)."""
from __future__ import annotations

import pytest

from assistant.cli import main
from assistant.pipeline import AskOptions, ask
from assistant.services import Services
from tests.fakes import FakeCompleter
from tests.kb import ingest_texts
from tests.test_runs_cli import cli_env  # noqa: F401 - the fixture

DOCS = {
    "hosts.md": "# Hosts [/bold]\n\nEdit [/etc/hosts] and [red]restart[/red] the resolver.\x1b[31m then \x1b]0;pwned\x07.",
    "plain.md": "# Plain\n\nNothing odd about the hosts file here.",
}
QUESTION = "hosts [/bold] file \x1b[2J edit"


def test_markup_and_escapes_in_documents_and_questions(cli_env, db, use_embedder, tmp_path, capsys, monkeypatch):  # noqa: F811
    from assistant.cli import common
    monkeypatch.setattr(common.console, "width", 200)
    ingest_texts(db, use_embedder, cli_env, tmp_path / "docs", DOCS)

    assert main(["search", "hosts file"]) == 0
    out = capsys.readouterr().out
    assert "[/etc/hosts]" in out and "[red]restart[/red]" in out and "Hosts [/bold]" in out
    assert "\x1b" not in out and "\x07" not in out

    assert main(["search", QUESTION, "--rerank", "none"]) == 0
    out = capsys.readouterr().out
    assert "[/bold]" in out and "\x1b" not in out

    services = Services(cli_env.replace(recall_k=2, context_k=2), db=db, embedder=use_embedder,
                        completer=FakeCompleter(["Edit [/etc/hosts] [1] \x1b[31mnow."]))
    run = ask(QUESTION, AskOptions(strategy="none"), services)
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert "[/bold]" in listing and "\x1b" not in listing
    assert main(["runs", "show", str(run.id)]) == 0
    shown = capsys.readouterr().out
    assert "Edit [/etc/hosts] [1]" in shown and "[/bold]" in shown and "\x1b" not in shown


@pytest.mark.parametrize("text, expected", [
    ("a\x1b[31mred\x1b[0m", "ared"), ("title\x1b]0;pwned\x07 end", "title end"), ("bell\x07 nul\x00", "bell nul"),
    ("keep\nnewlines\tand tabs", "keep\nnewlines\tand tabs"), ("c1\x9b2Jx", "c1x"),
])
def test_clean_strips_terminal_controls(text, expected):
    from assistant.cli.common import clean
    assert clean(text) == expected


def test_the_chat_shows_document_and_model_text_without_escapes():
    from assistant.tui.format import answer_content
    from assistant.tui.turn import Turn

    content = answer_content("Edit [/etc/hosts] \x1b[2J now [1].", 1, [1], [])
    assert "\x1b" not in content.plain and "[/etc/hosts]" in content.plain
    turn = Turn(1, "q", "none", "m")
    from tests.test_rerank_cross_encoder import cand
    turn.candidates = [cand(1, "Hosts \x1b]0;pwned\x07", "Edit [/etc/hosts]\x1b[31m.")]
    row = turn.sources()[0]
    assert "\x1b" not in row.text + row.label + row.source and "[/etc/hosts]" in row.text
