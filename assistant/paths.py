"""Where bundled data (migrations, prompts, demo knowledge base) is found, in a checkout or an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """migrations/ and prompts/ sit at the repository root in a checkout and under assistant/_data in a wheel."""
    for candidate in (_PKG.parent / name, _PKG / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} not found next to {_PKG}")


def demo_kb_dir() -> Path:
    return _PKG / "demo_kb"
