"""Text from documents, questions and models is data: before it reaches a terminal (CLI or chat), escape
sequences and control characters are removed, so a document cannot move the cursor, retitle the window or
clear the screen."""
from __future__ import annotations

import re

# CSI/OSC/other escape sequences, then any C0/C1 control character except newline and tab.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str | None) -> str:
    """Document and question text made safe for a terminal: no escape sequences or control characters."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text or ""))


