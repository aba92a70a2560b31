"""Where bundled data (migrations, prompts, demo knowledge base) is found, in a checkout or an installed wheel."""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """migrations/ and prompts/ sit at the repository root in a checkout and under assistant/_data in a wheel."""
    for candidate in (_PKG.parent / name, _PKG / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} not found next to {_PKG}")


def demo_kb_dir() -> Path:
    return _PKG / "demo_kb"


@contextmanager
def replaced_whole(directory: Path) -> Iterator[Path]:
    """A temporary folder beside directory, put in its place when the block succeeds and removed when it fails:
    a reader never sees half a model, and an earlier one stays until the new one is complete."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a saved model is an ordinary directory
    try:
        yield tmp
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
