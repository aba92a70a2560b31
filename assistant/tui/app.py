"""The app: holds settings, services and the user's current choices; starts services in a worker."""
from __future__ import annotations

import logging
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.reactive import reactive

from assistant.pipeline import STRATEGIES
from assistant.tui.errors import ReportsWorkerErrors, describe
from assistant.tui.messages import (IngestFinished, Phase, PhaseDone, ServicesReady, StartupFailed,
                                    WorkFailed)
from assistant.tui.screens.chat import ChatScreen


def _corpus(services) -> str:
    from assistant.db import store
    with services.db.connection() as conn:
        docs, chunks = store.counts(conn)
    return f"{docs} docs · {chunks} chunks"


class AssistantApp(ReportsWorkerErrors, App):
    """Terminal chat over the knowledge base."""

    CSS_PATH = "app.tcss"
    TITLE = "rerank-assistant"

    strategy = reactive("auto")
    model = reactive("")
    last_strategy = reactive("")
    timings = reactive(dict, always_update=True)
    db_label = reactive("")
    embed_label = reactive("")
    corpus = reactive("")
    show_timings = reactive(True)

    def __init__(self, settings, services=None, *, show_timings: bool = True, log_file: Path | None = None):
        """services: prebuilt Services (tests pass fakes); show_timings False keeps screenshots stable."""
        super().__init__()
        from assistant.services import Services

        self.settings = settings
        self._own_services = services is None
        self.services = services or Services(settings)
        self.log_file = log_file
        self.ready = False
        self.reasons: dict[str, str | None] = {"none": None}
        """Per strategy: None when it can run now, else why not (from the reranker registry)."""
        self.chat = ChatScreen()
        self.set_reactive(AssistantApp.strategy, settings.rerank)
        self.set_reactive(AssistantApp.model, settings.llm_model)
        self.set_reactive(AssistantApp.show_timings, show_timings)

    def get_default_screen(self) -> ChatScreen:
        return self.chat

    def on_mount(self) -> None:
        self._start()

    def on_unmount(self) -> None:
        if self._own_services:
            self.services.close()

    # ---------------------------------------------------------------- startup
    @work(thread=True, exit_on_error=False, group="startup")
    def _start(self) -> None:
        s = self.services
        try:
            self.post_message(Phase("opening the database…"))
            db_label = s.db.label
            self.post_message(Phase(f"loading the embedding model {s.settings.embedder}…"))
            embed_label = s.embedder.model_id

            def progress(done: int, total: int, current: str = "") -> None:
                self.post_message(Phase(f"first run: ingesting the demo knowledge base ({Path(current).name})",
                                        done, total))

            report = s.ensure_knowledge_base(progress)
            from assistant.rerank.registry import status
            reasons = status(s)
            corpus = _corpus(s)
        except Exception as exc:
            self.post_message(StartupFailed(exc))
            self.post_message(PhaseDone())
            return
        self.post_message(ServicesReady(reasons, corpus, db_label, embed_label,
                                        report.summary() if report is not None else None))
        self._warm_reranker(reasons)
        self._warm_model(self.model)

    def _warm_reranker(self, reasons: dict) -> None:
        """Load the cross-encoder before the first question when the strategy will use it (a thread worker)."""
        if self.strategy not in ("auto", "cross-encoder") or reasons.get("cross-encoder") is not None:
            return
        try:
            self.post_message(Phase("loading the reranker…"))
            self.services.reranker("cross-encoder")
        except Exception as exc:
            # auto routes around a reranker that cannot load; one the user chose should say why now.
            logging.getLogger(__name__).warning("cross-encoder not preloaded: %s", exc)
            if self.strategy == "cross-encoder":
                self.post_message(WorkFailed(exc, "loading the cross-encoder"))
        finally:
            self.post_message(PhaseDone())

    def _warm_model(self, model: str) -> None:
        """Load the answer model before the first question (runs inside a thread worker)."""
        try:
            self.post_message(Phase(f"loading the answer model {model}…"))
            from assistant.models.registry import preload
            preload(self.services.completer_for(model))
        except Exception as exc:
            self.post_message(WorkFailed(exc, f"loading {model}"))
        finally:
            self.post_message(PhaseDone())

    @property
    def available(self) -> list[str]:
        return [name for name, reason in self.reasons.items() if reason is None]

    def on_services_ready(self, message: ServicesReady) -> None:
        self.ready = True
        self.reasons = message.reasons
        self.corpus, self.db_label, self.embed_label = message.corpus, message.db_label, message.embed_label
        if message.ingested:
            self.notify(message.ingested, title="Demo knowledge base ingested", timeout=8)
        self.chat.on_ready()

    def on_startup_failed(self, message: StartupFailed) -> None:
        self.report(message.error, "starting", timeout=60)
        self.chat.query_one("#question").placeholder = "Could not start: see the message, fix it, restart (Ctrl+Q)"

    def on_phase(self, message: Phase) -> None:
        self.chat.query_one("#work").show(message.label, message.done, message.total)

    def on_phase_done(self, message: PhaseDone) -> None:
        self.chat.query_one("#work").hide()

    def on_work_failed(self, message: WorkFailed) -> None:
        self.report(message.error, message.doing)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """As App.notify, but plain text by default: messages quote paths and `pip install '.[local]'`."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def report(self, error: BaseException, doing: str = "", timeout: float = 12) -> None:
        """Show an error as a notification with what to do (the traceback only goes to the log file)."""
        title, text = describe(error, doing, self.log_file)
        self.notify(text, title=title, severity="error", timeout=timeout)

    # ---------------------------------------------------------------- choices
    def set_strategy(self, name: str) -> None:
        if name not in STRATEGIES:
            self.notify(f"unknown strategy {name!r}", severity="error")
            return
        self.strategy = name
        reason = self.reasons.get(name)
        if reason:
            self.notify(f"Strategy: {name}. Note: {reason}", severity="warning", timeout=10)
        else:
            self.notify(f"Strategy: {name}", timeout=3)

    def set_model(self, model: str) -> None:
        model = model.strip()
        if not model or model == self.model:
            return
        self.model = model
        self.notify(f"Answer model: {model}", timeout=3)
        self._switch_model(model)

    @work(thread=True, exit_on_error=False, group="model", exclusive=True)
    def _switch_model(self, model: str) -> None:
        self._warm_model(model)

    def action_pick_strategy(self) -> None:
        from assistant.tui.screens.pickers import StrategyPicker
        self.push_screen(StrategyPicker(self.strategy, self.reasons), self._picked_strategy)

    def _picked_strategy(self, name: str | None) -> None:
        if name:
            self.set_strategy(name)

    def action_pick_model(self) -> None:
        from assistant.tui.screens.pickers import ModelPicker
        self.push_screen(ModelPicker(self.model, self._model_choices()), self._picked_model)

    def _picked_model(self, model: str | None) -> None:
        if model:
            self.set_model(model)

    def _model_choices(self) -> list[str]:
        from assistant.models.local_models import LOCAL_MODELS
        from assistant.models.registry import LOCAL_PREFIX

        choices = [self.settings.llm_model, self.model, *(LOCAL_PREFIX + name for name in LOCAL_MODELS)]
        return list(dict.fromkeys(c for c in choices if c))

    # ---------------------------------------------------------------- other screens
    def _question_or_warn(self) -> str | None:
        question = self.chat.current_question()
        if not question:
            self.notify("Type a question first (or ask one): compare and consistency run it.", severity="warning")
        elif not self.ready:
            self.notify("Still starting; try again in a moment.", severity="warning")
            return None
        return question

    def default_compare(self) -> list[str]:
        """Up to three strategies auto may use; short of two, listwise fills in (it runs on any model, if poorly)."""
        picks = [s for s in ("none", "cross-encoder", "remote", "llm") if s in self.available][:3]
        return picks if len(picks) >= 2 else list(dict.fromkeys(["none", *picks, "llm"]))[:3]

    def action_compare(self) -> None:
        question = self._question_or_warn()
        if not question:
            return
        from assistant.tui.screens.pickers import RunPlan
        from assistant.tui.screens.compare import CompareScreen

        def go(plan) -> None:
            if plan:
                self.push_screen(CompareScreen(question, plan[0]))

        self.push_screen(RunPlan("compare", question, self.default_compare(), self.available), go)

    def action_consistency(self) -> None:
        question = self._question_or_warn()
        if not question:
            return
        from assistant.tui.screens.pickers import RunPlan
        from assistant.tui.screens.consistency import ConsistencyScreen

        def go(plan) -> None:
            if plan:
                self.push_screen(ConsistencyScreen(question, plan[0], plan[1]))

        self.push_screen(RunPlan("consistency", question, self.default_compare(), self.available), go)

    def action_history(self) -> None:
        from assistant.tui.screens.history import HistoryScreen

        def go(choice) -> None:
            if choice:
                self.chat.ask_question(*choice)

        self.push_screen(HistoryScreen(), go)

    def action_add_folder(self) -> None:
        from assistant.tui.screens.pickers import FolderPrompt
        self.push_screen(FolderPrompt(), self._ingest)

    def _ingest(self, path: Path | None) -> None:
        if path is None:
            return
        if not self.ready:
            self.notify("Still starting; add the folder once the app is ready.", severity="warning")
            return
        self._ingest_worker(path)

    @work(thread=True, exit_on_error=False, group="ingest")
    def _ingest_worker(self, path: Path) -> None:
        def progress(done: int, total: int, current: str = "") -> None:
            self.post_message(Phase(f"adding {path.name}: {Path(current).name}", done, total))

        try:
            self.post_message(Phase(f"adding {path}…"))
            report = self.services.ingestor.ingest_paths([path], progress)
            corpus = _corpus(self.services)
        except Exception as exc:
            self.post_message(WorkFailed(exc, f"adding {path}"))
        else:
            self.call_from_thread(setattr, self, "corpus", corpus)
            self.post_message(IngestFinished(report.summary(), report.skipped))
        finally:
            self.post_message(PhaseDone())

    def on_ingest_finished(self, message: IngestFinished) -> None:
        text = message.summary
        if message.skipped:
            text += "\nskipped: " + "; ".join(f"{Path(p).name} ({why})" for p, why in message.skipped[:5])
        self.notify(text, title="Folder added", timeout=10)

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for name in STRATEGIES:
            yield SystemCommand(f"Strategy: {name}", f"rerank with {name} from the next question on",
                                lambda n=name: self.set_strategy(n))
        yield SystemCommand("Model: choose…", "pick or type the answer model (litellm model string)",
                            self.action_pick_model)
        for model in self._model_choices():
            yield SystemCommand(f"Model: {model}", "answer with this model", lambda m=model: self.set_model(m))
        yield SystemCommand("Compare strategies", "the current question through 2-3 strategies side by side",
                            self.action_compare)
        yield SystemCommand("Consistency", "run the current question N times per strategy", self.action_consistency)
        yield SystemCommand("History", "past runs from the run log, re-askable", self.action_history)
        yield SystemCommand("Add folder", "ingest a folder of documents into the knowledge base",
                            self.action_add_folder)
        yield SystemCommand("Toggle sources panel", "show or hide the sources of the selected answer",
                            self.chat.action_toggle_sources)


def run_app(settings) -> int:
    """Open the chat; returns the process exit code."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.data_dir / "tui.log"
    # Textual owns the terminal: warnings and tracebacks go to a file, never onto the screen.
    logging.basicConfig(filename=log_file, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    AssistantApp(settings, log_file=log_file).run()
    return 0
