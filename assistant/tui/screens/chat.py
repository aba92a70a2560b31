"""The main screen: conversation on the left, sources of the selected answer on the right, status at the bottom."""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from assistant.pipeline import AskOptions, ask
from assistant.tui.errors import ReportsWorkerErrors, Stop
from assistant.tui.messages import AskFinished
from assistant.tui.turn import Turn
from assistant.tui.widgets.answer import AnswerView, QuestionView
from assistant.tui.widgets.progress import WorkProgress
from assistant.tui.widgets.sources import SourcesPanel
from assistant.tui.widgets.status import StatusBar

WELCOME = (
    "Ask about the documents in the knowledge base (English or 中文) and press Enter.\n"
    "Answers cite their sources as [n]: click a marker, or focus an answer (Tab) and press 1-9.\n"
    "F2 strategy · F3 model · F4 compare strategies · F5 consistency · F6 history · F7 add a folder · "
    "F8 sources panel · Esc stop · Ctrl+P all commands · Ctrl+Q quit"
)


class ChatScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [
        Binding("f2", "pick_strategy", "Strategy"),
        Binding("f3", "pick_model", "Model"),
        Binding("f4", "compare", "Compare"),
        Binding("f5", "consistency", "Consistency"),
        Binding("f6", "history", "History"),
        Binding("f7", "add_folder", "Add folder"),
        Binding("f8", "toggle_sources", "Sources", show=False),
        Binding("escape", "stop", "Stop", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="chat")
        self.turns: list[Turn] = []
        self.views: dict[int, AnswerView] = {}
        self.selected: Turn | None = None
        self.busy: Turn | None = None
        self.pending: list[tuple[str, str | None]] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with VerticalScroll(id="conversation"):
                yield Static(Content(WELCOME), id="welcome")
            yield SourcesPanel(id="sources")
        yield WorkProgress(id="work")
        yield Input(placeholder="Starting… you can type your question already", id="question")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#question", Input).focus()

    # ---------------------------------------------------------------- asking
    def on_ready(self) -> None:
        """Called by the app once the services are up: ask what was typed while starting."""
        self.query_one("#question", Input).placeholder = "Ask a question and press Enter"
        while self.pending and self.busy is None:
            self.ask_question(*self.pending.pop(0))

    @on(Input.Submitted, "#question")
    def _submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        event.input.clear()
        self.ask_question(question)

    def ask_question(self, question: str, strategy: str | None = None) -> None:
        """Ask now, or queue it while the app starts or another answer is being written."""
        if not self.app.ready or self.busy is not None:
            self.pending.append((question, strategy))
            why = ("the app is still starting" if not self.app.ready
                   else f"#{self.busy.number} is being answered (Esc stops it)")
            self.notify(f"Queued: {why}.", timeout=4)
            return
        turn = Turn(number=len(self.turns) + 1, question=question, requested=strategy or self.app.strategy,
                    model=self.app.model, stage="recalling")
        self.turns.append(turn)
        view = AnswerView(turn)
        self.views[turn.number] = view
        conversation = self.query_one("#conversation", VerticalScroll)
        self.query_one("#welcome").display = False  # the footer keeps the keys in view; the room goes to answers
        conversation.mount_all([QuestionView(turn), view])
        conversation.scroll_end(animate=False)
        self.busy = turn
        self.select(turn)
        self._ask(turn)

    @work(thread=True, exit_on_error=False, group="ask")
    def _ask(self, turn: Turn) -> None:
        worker = get_current_worker()
        app = self.app

        def on_event(event) -> None:
            if worker.is_cancelled:
                raise Stop()
            try:
                app.call_from_thread(self._apply, turn, event)
            except RuntimeError as exc:  # the app is closing: stop generating
                raise Stop() from exc

        try:
            run = ask(turn.question, AskOptions(strategy=turn.requested, model=turn.model), app.services, on_event)
        except BaseException as exc:  # reported on the UI thread as a notification, never re-raised
            self.post_message(AskFinished(turn.number, None, exc))
        else:
            self.post_message(AskFinished(turn.number, run))

    def _apply(self, turn: Turn, event) -> None:
        conversation = self.query_one("#conversation", VerticalScroll)
        follow = conversation.max_scroll_y - conversation.scroll_y <= 2
        turn.apply(event)
        if event.kind == "done":
            self.app.timings = dict(turn.timings)
            self.app.last_strategy = turn.strategy or ""
        self.views[turn.number].redraw()
        if turn is self.selected and event.kind != "token":
            self.query_one(SourcesPanel).show(turn)
        if follow:
            conversation.scroll_end(animate=False)

    def on_ask_finished(self, message: AskFinished) -> None:
        turn = self.turns[message.turn - 1]
        self.busy = None
        if message.error is not None:
            if isinstance(message.error, Stop):
                turn.error = str(message.error)
            else:
                self.app.report(message.error, f"answering #{turn.number}")
                turn.error = turn.error or str(message.error)
            turn.stage = "failed"
        self.views[turn.number].redraw()
        if turn is self.selected:
            self.query_one(SourcesPanel).show(turn)
        if self.pending:
            self.ask_question(*self.pending.pop(0))

    def action_stop(self) -> None:
        if self.busy is None:
            self.query_one("#question", Input).focus()
            return
        self.pending.clear()
        self.workers.cancel_group(self, "ask")
        self.notify(f"Stopping #{self.busy.number}…", timeout=3)

    # ---------------------------------------------------------------- sources
    def select(self, turn: Turn, source: int | None = None) -> None:
        self.selected = turn
        for number, view in self.views.items():
            view.set_class(number == turn.number, "-selected")
        self.query_one(SourcesPanel).show(turn, source)

    def on_answer_view_selected(self, message: AnswerView.Selected) -> None:
        self.select(message.turn, message.source)

    def action_cite(self, turn: int, number: int) -> None:
        """A citation marker was clicked."""
        if 0 < turn <= len(self.turns):
            self.select(self.turns[turn - 1], number)

    def on_sources_panel_open_document(self, message: SourcesPanel.OpenDocument) -> None:
        from assistant.tui.screens.document import DocumentScreen
        self.app.push_screen(DocumentScreen(message.row))

    def action_toggle_sources(self) -> None:
        panel = self.query_one(SourcesPanel)
        panel.display = not panel.display

    # ---------------------------------------------------------------- other views
    def current_question(self) -> str | None:
        """What is typed in the input, else the last question asked."""
        typed = self.query_one("#question", Input).value.strip()
        return typed or (self.turns[-1].question if self.turns else None)

    def action_pick_strategy(self) -> None:
        self.app.action_pick_strategy()

    def action_pick_model(self) -> None:
        self.app.action_pick_model()

    def action_compare(self) -> None:
        self.app.action_compare()

    def action_consistency(self) -> None:
        self.app.action_consistency()

    def action_history(self) -> None:
        self.app.action_history()

    def action_add_folder(self) -> None:
        self.app.action_add_folder()
