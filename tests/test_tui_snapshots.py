"""SVG snapshots of the main screen, the sources panel and compare mode (fake completer, no timings shown)."""
from __future__ import annotations

from textual.widgets import Input

from assistant.tui.app import AssistantApp
from assistant.tui.screens.compare import CompareScreen
from assistant.tui.widgets.answer import AnswerView
from assistant.tui.widgets.sources import SourcesPanel
from tests.fakes import FakeCompleter
from tests.test_tui_app import ANSWER, QUESTION, make_services, tui_settings, wait_until


def snapshot_app(settings, db, tmp_path, replies) -> AssistantApp:
    settings = tui_settings(settings)
    db.label = "postgres (test schema)"  # the real label holds a per-run socket path
    return AssistantApp(settings, make_services(settings, db, tmp_path, FakeCompleter(replies)), show_timings=False)


async def asked(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: app.ready, what="startup")
    await wait_until(pilot, lambda: not app.chat.query_one("#work").active, what="model warm-up")
    question = app.chat.query_one("#question", Input)
    question.cursor_blink = False
    question.value = QUESTION
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[-1].stage == "done", what="the answer")
    await pilot.pause()


def test_main_screen(snap_compare, settings, db, tmp_path):
    app = snapshot_app(settings, db, tmp_path, [ANSWER])
    assert snap_compare(app, terminal_size=(80, 24), run_before=asked)


def test_sources_panel_second_source(snap_compare, settings, db, tmp_path):
    app = snapshot_app(settings, db, tmp_path, [ANSWER])

    async def run_before(pilot) -> None:
        await asked(pilot)
        pilot.app.chat.query_one(AnswerView).focus()
        await pilot.press("2")
        pilot.app.chat.query_one(SourcesPanel).focus_list()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_compare_mode(snap_compare, settings, db, tmp_path):
    app = snapshot_app(settings, db, tmp_path, ["Plain recall answer [1].", "[6] > [5] > [4] > [3] > [2] > [1]",
                                               "Reranked answer: SET NX [1] and a fencing token [2]."])

    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: app.ready, what="startup")
        app.chat.query_one("#question", Input).cursor_blink = False
        app.push_screen(CompareScreen(QUESTION, ["none", "llm"]))
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen)
                         and all(t.stage == "done" for t in app.screen.turns), what="both columns")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
