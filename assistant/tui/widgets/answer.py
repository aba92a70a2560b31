"""One exchange in the conversation: the question, then the answer streaming in with clickable citations."""
from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from assistant.answer.support import UNSUPPORTED_NOTE
from assistant.tui.format import answer_content, clip, duration
from assistant.tui.turn import Turn
from assistant.textsafe import clean


class QuestionView(Static):
    """The question as the user typed it."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(Content.assemble(("❯ ", "bold $primary"), clean(turn.question)), classes="question")


class AnswerView(Static, can_focus=True):
    """The answer of one turn; focus or click it to show its sources, press 1-9 to pick a cited source."""

    BINDINGS = [Binding(str(n), f"cite({n})", f"source {n}", show=False) for n in range(1, 10)]

    class Selected(Message):
        """The user picked this answer (and maybe one of its sources)."""

        def __init__(self, turn: Turn, source: int | None = None) -> None:
            super().__init__()
            self.turn, self.source = turn, source

    def __init__(self, turn: Turn) -> None:
        super().__init__(classes="answer")
        self.turn = turn

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Re-render from the turn (called after every event; cheap at answer sizes)."""
        t = self.turn
        self.set_class(t.stage == "failed", "-failed")
        self.update(Content("\n").join([self._header(), *self._body()]))

    def _header(self) -> Content:
        t = self.turn
        strategy = t.requested if not t.strategy or t.strategy == t.requested else f"{t.requested}→{t.strategy}"
        parts: list = [(f"#{t.number} ", "bold"), (strategy, "$secondary"), " · ", (t.model, "$text-muted")]
        if t.stage == "done":
            parts += [" · ", (duration(t.timings.get("total_ms")), "$text-muted")] if self.app_shows_timings else []
        elif t.stage != "failed":
            # A slow or hung model server should never leave people guessing how to get the prompt back.
            parts += [" · ", (f"{t.stage}…", "italic $warning"), ("  (Esc stops)", "$text-muted")]
        return Content.assemble(*parts)

    @property
    def app_shows_timings(self) -> bool:
        return getattr(self.app, "show_timings", True)

    def _body(self) -> list[Content]:
        t = self.turn
        out: list[Content] = []
        if t.decision:
            # The policy's full reason (with what to set up) is in the run log; two lines is enough here.
            reason = clip(t.decision.get("reason", ""), 120)
            out.append(Content.assemble(("auto: ", "$text-muted"), (reason, "italic $text-muted")))
        valid, invalid = t.citation_numbers()
        support = getattr(t.answer, "support", None)
        if t.text:
            shown = support.marked_text if support is not None and t.answer.text == t.text else t.text
            out.append(answer_content(shown, t.number, valid, invalid))
        if support is not None and support.unsupported:
            marks = " ".join(f"[{n}?]" for n in support.unsupported_numbers)
            out.append(Content.styled(f"{marks} {UNSUPPORTED_NOTE}", "dim italic"))
        if t.answer is not None:
            if getattr(t.answer, "abstained", False):
                out.append(Content.styled("The model said the sources do not answer this.", "italic $warning"))
            elif not valid:
                out.append(Content.styled("⚠ no citations: this answer points to none of its sources.",
                                          "bold $warning"))
            if invalid:
                out.append(Content.styled(f"⚠ cites sources it was not given: {invalid}", "bold $error"))
        if t.error:
            out.append(Content.styled(f"✗ {t.error}", "bold $error"))
        return out

    def on_focus(self) -> None:
        self.post_message(self.Selected(self.turn))

    def action_cite(self, number: int) -> None:
        self.post_message(self.Selected(self.turn, number))
