"""Pilot tests of the chat app over a real Postgres schema, the hashing fake embedder and a fake completer."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from assistant.ingest.loaders import load
from assistant.models.completer import LLMError
from assistant.services import Services
from assistant.tui.app import AssistantApp
from assistant.tui.screens.compare import CompareScreen
from assistant.tui.screens.consistency import ConsistencyScreen
from assistant.tui.screens.document import DocumentScreen
from assistant.tui.screens.history import HistoryScreen
from assistant.tui.screens.pickers import RunPlan, StrategyPicker
from assistant.tui.widgets.answer import AnswerView
from assistant.tui.widgets.sources import SourcesPanel
from assistant.tui.widgets.status import StatusBar
from tests.fakes import FakeCompleter, FakeEmbedder

DOCS = {
    "redis-set-nx.md": "# Redis SET NX lock\nTake a Redis lock with SET key token NX PX 30000; the key expires if "
                       "the holder dies.",
    "redis-release.md": "# Releasing a Redis lock\nRelease the Redis lock with a Lua script that deletes the key "
                        "only when it still holds your token.",
    "redlock.md": "# Redlock\nRedlock takes the lock on a majority of independent Redis masters.",
    "postgres-advisory.md": "# Postgres advisory locks\npg_advisory_lock takes a session lock on a number; no "
                            "Redis needed.",
    "zookeeper.md": "# ZooKeeper lock recipe\nEach client creates an ephemeral sequential node; the lowest holds "
                    "the lock.",
    "etcd.md": "# etcd lock\netcd locks are built on leases and revisions; the lease expiry frees the lock.",
    "fencing.md": "# Fencing tokens\nA fencing token increases with every lock grant so storage rejects stale "
                  "writers.",
}
QUESTION = "How do I take a Redis lock?"
ANSWER = "Use SET key token NX PX 30000 so the key expires [1]. Release it with a Lua script that checks the token [2]."


def write_docs(folder: Path, docs: dict[str, str] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def make_services(settings, db, tmp_path: Path, completer: FakeCompleter) -> Services:
    """Services over the test schema with a small lock corpus, stored under stable 'kb/<name>' sources so that
    screenshots do not carry the per-run temporary path."""
    services = Services(settings, db=db, embedder=FakeEmbedder(), completer=completer)
    folder = write_docs(tmp_path / "kb")
    docs = [dataclasses.replace(load(folder / name, 1 << 20), source=f"kb/{name}") for name in DOCS]
    services.ingestor.ingest_documents(docs, len(docs))
    return services


def tui_settings(settings):
    # Six candidates fit one listwise window, so a single queued permutation reply reorders them all.
    return settings.replace(rerank="none", recall_k=6, context_k=3, llm_model="fake/llm")


async def wait_until(pilot, condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def ask(pilot, app: AssistantApp, question: str) -> None:
    await wait_until(pilot, lambda: app.ready, what="startup")
    app.chat.query_one("#question", Input).value = question
    await pilot.press("enter")


def first_command(app) -> str:
    """The top hit of the open command palette."""
    hits = app.screen.query_one("CommandList")
    return str(hits.get_option_at_index(0).prompt) if hits.option_count else ""


def notifications(app) -> list:
    return list(app._notifications)


@pytest.mark.asyncio
async def test_ask_streams_answer_and_shows_cited_sources(settings, db, tmp_path):
    settings = tui_settings(settings)
    completer = FakeCompleter([ANSWER], delay=0.15)
    app = AssistantApp(settings, make_services(settings, db, tmp_path, completer))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, app, QUESTION)
        turn_done = lambda: app.chat.turns and app.chat.turns[0].stage == "done"  # noqa: E731
        # Mid-stream: part of the answer is on screen before the whole of it.
        await wait_until(pilot, lambda: app.chat.turns and "SET key" in app.chat.turns[0].text
                         and len(app.chat.turns[0].text) < len(ANSWER),
                         what="a partial answer")
        view = app.chat.query_one(AnswerView)
        partial = str(view.visual)
        assert "Use SET key" in partial and "checks the token" not in partial
        await wait_until(pilot, turn_done, what="the answer")
        turn = app.chat.turns[0]
        assert turn.text == ANSWER
        shown = str(view.visual)
        assert "Release it with a Lua script" in shown and "no citations" not in shown
        panel = app.chat.query_one(SourcesPanel)
        rows = panel.rows
        assert [r.number for r in rows] == [1, 2, 3]
        assert [r.cited for r in rows] == [True, True, False]
        assert rows[0].source.startswith("kb/redis")
        detail = str(panel.query_one("#source-detail").visual)
        assert rows[0].text[:30] in detail and "cited in the answer" in detail
        # The run went through the pipeline and was logged.
        assert turn.run_id is not None and completer.calls[0]["purpose"] == "answer"
        status = str(app.chat.query_one(StatusBar).visual)
        assert "recall" in status and "total" in status and "fake/hash-bow" in status


@pytest.mark.asyncio
async def test_citation_key_selects_source_and_opens_document(settings, db, tmp_path):
    settings = tui_settings(settings)
    app = AssistantApp(settings, make_services(settings, db, tmp_path, FakeCompleter([ANSWER])))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, app, QUESTION)
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[0].stage == "done")
        view = app.chat.query_one(AnswerView)
        panel = app.chat.query_one(SourcesPanel)
        # Clicking the [2] marker in the answer selects source 2.
        region = view.region
        spots = [(x, y) for y in range(region.y, region.bottom) for x in range(region.x, region.right)
                 if app.screen.get_style_at(x, y).meta.get("@click") == "screen.cite(1,2)"]
        assert spots, "the [2] marker is not clickable"
        await pilot.click(offset=spots[0])
        assert panel.query_one(OptionList).highlighted == 1
        # So does pressing 1 with the answer focused.
        view.focus()
        await pilot.press("1")
        assert panel.query_one(OptionList).highlighted == 0
        await pilot.press("2")
        assert panel.query_one(OptionList).highlighted == 1
        second = panel.rows[1]
        panel.focus_list()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DocumentScreen), what="document screen")
        await wait_until(pilot, lambda: app.screen.query(".hit"), what="document text")
        assert second.text in str(app.screen.query_one(".hit").visual)
        await pilot.press("escape")
        assert app.screen is app.chat


@pytest.mark.asyncio
async def test_switch_strategy_by_key_and_palette(settings, db, tmp_path):
    settings = tui_settings(settings)
    completer = FakeCompleter(["[6] > [5] > [4] > [3] > [2] > [1]", ANSWER])
    app = AssistantApp(settings, make_services(settings, db, tmp_path, completer))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        assert app.strategy == "none"
        await pilot.press("f2")
        assert isinstance(app.screen, StrategyPicker)
        options = app.screen.query_one(OptionList)
        await pilot.press(*["down"] * (options.get_option_index("llm") - options.highlighted))
        await pilot.press("enter")
        assert app.strategy == "llm"
        assert "llm" in str(app.chat.query_one(StatusBar).visual)
        await ask(pilot, app, QUESTION)
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[0].stage == "done")
        turn = app.chat.turns[0]
        assert turn.requested == "llm" and turn.strategy == "llm"
        assert [c["purpose"] for c in completer.calls] == ["rerank", "answer"]
        # The listwise order reversed recall: the first source is the sixth recalled chunk.
        rows = app.chat.query_one(SourcesPanel).rows
        assert (rows[0].recall_rank, rows[0].rank) == (6, 1)

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Strategy: cross")
        await wait_until(pilot, lambda: "cross-encoder" in first_command(app), what="palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.strategy == "cross-encoder", what="palette strategy")
        # No cross-encoder is installed in tests: the switch says so instead of failing later in silence.
        assert any("no cross-encoder model" in n.message for n in notifications(app))
        # Asking anyway fails with the same advice as a notification, and the turn says what happened.
        app.chat.query_one("#question", Input).value = QUESTION
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.turns) == 2 and app.chat.turns[1].stage == "failed")
        await pilot.pause()
        error = next(n for n in notifications(app) if n.severity == "error")
        assert error.title.startswith("Reranker unavailable") and "F2" in error.message


@pytest.mark.asyncio
async def test_compare_two_strategies_marks_sources_only_one_used(settings, db, tmp_path):
    settings = tui_settings(settings)
    completer = FakeCompleter(["Plain recall answer [1].", "[6] > [5] > [4] > [3] > [2] > [1]",
                               "Reranked answer [1][2]."])
    app = AssistantApp(settings, make_services(settings, db, tmp_path, completer))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        app.chat.query_one("#question", Input).value = QUESTION
        await pilot.press("f4")
        assert isinstance(app.screen, RunPlan)
        assert app.screen.query_one("SelectionList").selected == ["none", "llm"]
        await pilot.click("#plan-run")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare screen")
        screen = app.screen
        await wait_until(pilot, lambda: all(t.stage == "done" for t in screen.turns), what="both columns")
        plain, reranked = screen.turns
        assert plain.text == "Plain recall answer [1]." and reranked.text == "Reranked answer [1][2]."
        top_plain = [r.recall_rank for r in plain.sources(5)]
        top_reranked = [r.recall_rank for r in reranked.sources(5)]
        assert top_plain[:3] == [1, 2, 3] and top_reranked[:3] == [6, 5, 4]
        only_plain = {r.recall_rank for r in plain.sources(5) if r.chunk_id in screen.columns[0].unique}
        only_reranked = {r.recall_rank for r in reranked.sources(5) if r.chunk_id in screen.columns[1].unique}
        assert only_plain == set(top_plain) - set(top_reranked) and only_plain
        assert only_reranked == set(top_reranked) - set(top_plain) and only_reranked
        assert "◆" in str(screen.columns[0].query_one(".col-sources").visual)
        await pilot.press("escape")
        assert app.screen is app.chat


@pytest.mark.asyncio
async def test_llm_failure_is_a_notification_not_a_traceback(settings, db, tmp_path):
    settings = tui_settings(settings)
    completer = FakeCompleter([LLMError("cannot reach http://127.0.0.1:9/v1: connection refused")])
    app = AssistantApp(settings, make_services(settings, db, tmp_path, completer))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, app, QUESTION)
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[0].stage == "failed", what="failure")
        await pilot.pause()
        errors = [n for n in notifications(app) if n.severity == "error"]
        assert len(errors) == 1
        assert errors[0].title.startswith("Answer model failed")
        assert "connection refused" in errors[0].message and "F3" in errors[0].message
        assert "Traceback" not in errors[0].message
        view = app.chat.query_one(AnswerView)
        assert "connection refused" in str(view.visual)
        # The sources found before the model failed are still there to read.
        assert len(app.chat.query_one(SourcesPanel).rows) == 3
        # The app is still usable: the next question goes through.
        completer.replies.append(ANSWER)
        app.chat.query_one("#question", Input).value = QUESTION
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat.turns) == 2 and app.chat.turns[1].stage == "done")


@pytest.mark.asyncio
async def test_history_lists_runs_and_asks_again(settings, db, tmp_path):
    settings = tui_settings(settings)
    completer = FakeCompleter(default=ANSWER)
    app = AssistantApp(settings, make_services(settings, db, tmp_path, completer))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, app, QUESTION)
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[0].stage == "done")
        await pilot.press("f6")
        assert isinstance(app.screen, HistoryScreen)
        await wait_until(pilot, lambda: app.screen.runs, what="run list")
        assert app.screen.runs[0]["question"] == QUESTION
        await wait_until(pilot, lambda: "Release it with a Lua script" in str(
            app.screen.query_one("#history-detail").visual), what="run detail")
        await pilot.press("enter")
        assert app.screen is app.chat
        await wait_until(pilot, lambda: len(app.chat.turns) == 2 and app.chat.turns[1].stage == "done")
        assert app.chat.turns[1].question == QUESTION


@pytest.mark.asyncio
async def test_add_folder_ingests_with_progress(settings, db, tmp_path):
    settings = tui_settings(settings)
    app = AssistantApp(settings, make_services(settings, db, tmp_path, FakeCompleter(default=ANSWER)))
    extra = write_docs(tmp_path / "more", {"consul.md": "# Consul lock\nConsul sessions hold a lock on a key.",
                                           "notes.txt": "Chubby is Google's lock service."})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        assert app.corpus.startswith("7 docs")
        await pilot.press("f7")
        app.screen.query_one(Input).value = str(tmp_path / "missing")
        await pilot.press("enter")
        assert "does not exist" in str(app.screen.query_one("#folder-error").visual)
        app.screen.query_one(Input).value = str(extra)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.corpus.startswith("9 docs"), what="ingest")
        await wait_until(pilot, lambda: any(n.title == "Folder added" for n in notifications(app)))
        note = next(n for n in notifications(app) if n.title == "Folder added")
        assert "2 added" in note.message


@pytest.mark.asyncio
async def test_consistency_view_runs_and_shows_table(settings, db, tmp_path):
    settings = tui_settings(settings)
    app = AssistantApp(settings, make_services(settings, db, tmp_path, FakeCompleter(default=ANSWER)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        app.push_screen(ConsistencyScreen(QUESTION, ["none", "cross-encoder"], 2))
        await wait_until(pilot, lambda: isinstance(app.screen, ConsistencyScreen) and app.screen.done,
                         timeout=30, what="experiment")
        table = app.screen.query_one("DataTable")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        # Two identical runs of `none` agree fully; the cross-encoder cannot run here and says so.
        assert rows[0][:3] == ["none", "2/2", "1.00"]
        assert rows[1][0] == "cross-encoder" and rows[1][1].startswith("0/")
        assert "█" in str(app.screen.query_one("#consistency-chart").visual)
        assert "cross-encoder: skipped" in str(app.screen.query_one("#consistency-notes").visual)


@pytest.mark.asyncio
async def test_switch_model_from_palette_is_used_for_the_next_answer(settings, db, tmp_path):
    settings = tui_settings(settings)
    services = make_services(settings, db, tmp_path, FakeCompleter(default=ANSWER))
    app = AssistantApp(settings, services)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Model: local/smol")
        await wait_until(pilot, lambda: "smollm2" in first_command(app), what="palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.model == "local/smollm2-135m", what="model switch")
        assert "local/smollm2-135m" in str(app.chat.query_one(StatusBar).visual)
        await ask(pilot, app, QUESTION)
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[0].stage == "done")
        from assistant.db import runlog
        with db.connection() as conn:
            run = runlog.get_run(conn, app.chat.turns[0].run_id)
        assert run["options"]["model"] == "local/smollm2-135m"


@pytest.mark.asyncio
async def test_escape_stops_a_streaming_answer_and_logs_it_interrupted(settings, db, tmp_path):
    settings = tui_settings(settings)
    long_answer = " ".join(["Use SET key token NX PX 30000 [1]."] * 40)
    app = AssistantApp(settings, make_services(settings, db, tmp_path, FakeCompleter([long_answer], delay=0.05)))
    async with app.run_test(size=(80, 24)) as pilot:
        await ask(pilot, app, QUESTION)
        await wait_until(pilot, lambda: app.chat.turns and "SET key" in app.chat.turns[0].text, what="streaming")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.chat.turns[0].stage == "failed", what="stop")
        turn = app.chat.turns[0]
        assert len(turn.text) < len(long_answer)
        assert "stopped by the user" in str(app.chat.query_one(AnswerView).visual)
        assert not [n for n in notifications(app) if n.severity == "error"]
        from assistant.db import runlog
        with db.connection() as conn:
            run = runlog.list_runs(conn, limit=1)[0]
        assert run["status"] == "interrupted"


@pytest.mark.asyncio
async def test_unreachable_database_is_explained_at_startup(settings, tmp_path):
    # Port 1 on loopback refuses at once: the same path as a database server that is down.
    settings = settings.replace(database_url="postgresql://postgres@127.0.0.1:1/postgres", data_dir=tmp_path / "d")
    app = AssistantApp(settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: any(n.severity == "error" for n in notifications(app)), what="error")
        error = next(n for n in notifications(app) if n.severity == "error")
        assert error.title.startswith("Database problem")
        assert "cannot reach the database" in error.message and "DATABASE_URL" in error.message
        assert not app.ready
        assert "Could not start" in app.chat.query_one("#question", Input).placeholder
        # A question typed now waits instead of crashing the app.
        app.chat.query_one("#question", Input).value = QUESTION
        await pilot.press("enter")
        assert app.chat.pending and not app.chat.turns


def test_a_turn_in_progress_says_how_to_stop_it():
    from assistant.tui.turn import Turn
    from assistant.tui.widgets.answer import AnswerView

    turn = Turn(1, "q", "auto", "openai/slow", stage="answering")
    assert "Esc stops" in AnswerView(turn)._header().plain
    turn.stage = "failed"
    assert "Esc" not in AnswerView(turn)._header().plain


@pytest.mark.house  # the shipped cross-encoder, as a fresh install has it
@pytest.mark.asyncio
async def test_the_reranker_loads_when_the_chat_opens_not_on_the_first_question(settings, db, tmp_path):
    settings = tui_settings(settings).replace(rerank="auto")
    services = make_services(settings, db, tmp_path, FakeCompleter(default=ANSWER))
    app = AssistantApp(settings, services)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        await wait_until(pilot, lambda: "cross-encoder" in services._rerankers, timeout=180,
                         what=f"reranker loaded ({app.strategy}, {app.reasons})")
    plain = tui_settings(settings)  # strategy none: nothing to load
    services = make_services(plain, db, tmp_path / "plain", FakeCompleter(default=ANSWER))
    app = AssistantApp(plain, services)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.ready)
        await pilot.pause(0.5)
        assert "cross-encoder" not in services._rerankers
