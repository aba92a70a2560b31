"""Small modal dialogs: strategy, model, a folder to add, and the plan of a compare/consistency run."""
from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from assistant.pipeline import STRATEGIES

ABOUT = {
    "none": "recall order as is (fastest)",
    "cross-encoder": "score each (question, chunk) pair with a cross-encoder",
    "remote": "a Cohere-style rerank server (Infinity, TEI, vLLM)",
    "llm": "listwise: the LLM orders the candidates (needs a capable model)",
    "auto": "a policy picks per question and says why",
}


class Dialog(ModalScreen):
    BINDINGS = [("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class StrategyPicker(Dialog):
    """Pick the rerank strategy; the highlighted one is explained below the list, with why it cannot run."""

    def __init__(self, current: str, reasons: dict[str, str | None]) -> None:
        super().__init__()
        self.current, self.reasons = current, reasons

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Rerank strategy (Enter to choose, Esc to cancel)", classes="dialog-title")
            options = []
            for name in STRATEGIES:
                mark = "● " if name == self.current else "  "
                flag = ("  unavailable", "$warning") if self.reasons.get(name) else ("", "")
                options.append(Option(Content.assemble(mark, (name, "bold"), flag), id=name))
            yield OptionList(*options, id="strategy-list")
            yield Static("", id="strategy-about", classes="dialog-question")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = STRATEGIES.index(self.current) if self.current in STRATEGIES else 0
        options.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id
        reason = self.reasons.get(name)
        about = Content.styled(ABOUT[name], "italic")
        if reason:
            about = Content("\n").join([about, Content.styled(f"auto avoids it: {reason}", "$warning")])
        self.query_one("#strategy-about", Static).update(about)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ModelPicker(Dialog):
    """Pick a known answer model or type any litellm model string."""

    def __init__(self, current: str, choices: list[str]) -> None:
        super().__init__()
        self.current, self.choices = current, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Answer model (Enter to choose, Esc to cancel)", classes="dialog-title")
            yield OptionList(*[Option(Content(("● " if m == self.current else "  ") + m), id=str(i))
                               for i, m in enumerate(self.choices)], id="model-list")
            yield Input(placeholder="or type a litellm model, e.g. openai/gpt-4o-mini, ollama/qwen2.5",
                        id="model-input")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id)])

    @on(Input.Submitted, "#model-input")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())


class FolderPrompt(Dialog):
    """Ask for a folder (or file) to ingest."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a folder or file to the knowledge base (md, txt, html, pdf)", classes="dialog-title")
            yield Input(placeholder="/path/to/docs", id="folder-input")
            yield Static("", id="folder-error", classes="dialog-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#folder-input")
    def _submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip() or not path.exists():
            self.query_one("#folder-error", Static).update(Content(f"{path} does not exist"))
            return
        self.dismiss(path.resolve())


class RunPlan(Dialog):
    """Which strategies to run the question through (and, for consistency, how many times each)."""

    def __init__(self, mode: str, question: str, picks: list[str], available: list[str]) -> None:
        super().__init__()
        self.mode, self.question, self.picks, self.available = mode, question, picks, available

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            what = "Compare (2-3 strategies)" if self.mode == "compare" else "Consistency: runs per strategy"
            yield Label(what, classes="dialog-title")
            yield Static(Content.styled(self.question, "italic"), classes="dialog-question")
            selections = [Selection(Content(name + ("" if name in self.available or name in ("none", "auto")
                                                    else "  (auto skips it: F2 says why)")), name, name in self.picks)
                          for name in STRATEGIES]
            yield SelectionList(*selections, id="plan-strategies")
            with Horizontal(classes="dialog-row"):
                if self.mode == "consistency":
                    yield Label("runs each ")
                    yield Input("5", type="integer", id="plan-n")
                yield Button("Run", variant="primary", id="plan-run")
            yield Static("", id="plan-error", classes="dialog-error")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(Button.Pressed, "#plan-run")
    @on(Input.Submitted, "#plan-n")
    def _run(self) -> None:
        chosen = list(self.query_one(SelectionList).selected)
        error = self.query_one("#plan-error", Static)
        if self.mode == "compare" and not 2 <= len(chosen) <= 3:
            error.update("Pick two or three strategies (Space toggles).")
            return
        if not chosen:
            error.update("Pick at least one strategy (Space toggles).")
            return
        n = 1
        if self.mode == "consistency":
            value = self.query_one("#plan-n", Input).value
            n = int(value) if value.isdigit() else 0
            if not 1 <= n <= 50:
                error.update("Runs per strategy: 1 to 50.")
                return
        self.dismiss((chosen, n))
