"""Which language a text is in, as far as serving and training care: 'zh' or 'en'."""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def language_of(text: str) -> str:
    """'zh' when Chinese characters make up a fair share of the letters, else 'en'."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    # One Chinese character carries about a word; a Latin word is ~5 letters.
    return "zh" if cjk and cjk >= 0.2 * (cjk + latin / 5) else "en"
