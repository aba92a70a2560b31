"""Small formatting helpers shared by the widgets: durations, rank movement, answers with clickable citations."""
from __future__ import annotations

import re
from typing import Iterable

from textual.content import Content
from assistant.textsafe import clean

# The bracket family the citation parser accepts ([1], 【1】, ［1, 3］, [1-2]); used only to style and link them.
# A "?" after a number marks a citation the support check found unbacked ([2?]).
CITATION = re.compile(r"[\[［【〔]\s*(\d+)\??(?:\s*(?:[-–,，、;；]|and)\s*\d+\??)*\s*[\]］】〕]")


def duration(ms: float | None) -> str:
    """12 ms / 1.4 s / 2 min 3 s."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)} min {int(ms % 60_000 / 1000)} s"


def movement(before: int | None, after: int | None) -> str:
    """Rank before -> after reranking, with an arrow: '#4→#1 ↑3'."""
    if before is None or after is None:
        return f"#{after or before or '?'}"
    if before == after:
        return f"#{before}→#{after} ="
    arrow = "↑" if after < before else "↓"
    return f"#{before}→#{after} {arrow}{abs(before - after)}"


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


def short_path(path: str, width: int) -> str:
    """The path if it fits, else '…/' and as many trailing folders as fit before the file name."""
    if len(path) <= width:
        return path
    parts = path.replace("\\", "/").split("/")
    out = parts[-1]
    for part in reversed(parts[:-1]):
        if not part or len(out) + len(part) + 3 > width:
            break
        out = f"{part}/{out}"
    return clip("…/" + out, width)


def answer_content(text: str, turn: int, valid: Iterable[int] | None = None,
                   invalid: Iterable[int] | None = None) -> Content:
    """The answer with its citation markers styled and clickable (click selects that source of this turn).

    valid/invalid are the checked source numbers once the answer is complete; while streaming both are None and
    every marker looks like a citation.
    """
    text = clean(text)  # a model may echo escape sequences from a document
    valid_set = set(valid) if valid is not None else None
    bad_set = set(invalid or ())
    parts: list = []
    pos = 0
    for m in CITATION.finditer(text):
        parts.append(text[pos:m.start()])
        first = int(m.group(1))
        numbers = {int(n) for n in re.findall(r"\d+", m.group(0))}
        if numbers & bad_set or (valid_set is not None and not numbers & valid_set):
            style = "bold $error strike"
        elif "?" in m.group(0):
            style = f"dim $text-muted @click=screen.cite({turn},{first})"
        else:
            style = f"bold $accent underline @click=screen.cite({turn},{first})"
        parts.append((m.group(0), style))
        pos = m.end()
    parts.append(text[pos:])
    return Content.assemble(*parts)


def bar(fraction: float | None, width: int) -> str:
    """A horizontal bar of width cells for a value in 0..1, with eighth-block resolution."""
    if fraction is None:
        return ""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else "▏▎▍▌▋▊▉"[rest - 1])
