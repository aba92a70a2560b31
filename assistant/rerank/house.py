"""The house cross-encoder that ships inside the package: where it lives, how it is checked, how it gets there.

It is trained by the repo's own recipe (assistant/train/recipes/house.toml), stored as fp16 safetensors (half
the bytes; it is served in float32), and its card carries the sha256 of every weight file, checked before it is
served: a truncated or altered checkout must fail loudly, not rerank with damaged weights.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from assistant.rerank.base import RerankerUnavailable

HOUSE_DIR = Path(__file__).parent / "house_model"
NAME = "house"
_WEIGHTS = (".safetensors", ".bin", ".onnx")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def available(directory: Path | None = None) -> bool:
    directory = Path(directory or HOUSE_DIR)
    return (directory / "config.json").is_file() and (directory / "card.json").is_file()


def verify(directory: Path | None = None) -> dict:
    """The card, once every weight file's sha256 matches it; RerankerUnavailable otherwise."""
    directory = Path(directory or HOUSE_DIR)
    try:
        card = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RerankerUnavailable(f"the shipped house cross-encoder in {directory} has no readable card.json: "
                                  "reinstall the package") from exc
    files = card.get("files") or {}
    weights = [f for f in directory.iterdir() if f.suffix in _WEIGHTS]
    if not files or not weights:
        raise RerankerUnavailable(f"the shipped house cross-encoder in {directory} lists no weight files: "
                                  "reinstall the package")
    for f in weights:
        want = files.get(f.name)
        if want is None or sha256_file(f) != want:
            raise RerankerUnavailable(f"the shipped house cross-encoder's {f.name} does not match the sha256 in its "
                                      "card.json (damaged or partial checkout, e.g. Git LFS): reinstall the package")
    return card


def ship(model, card: dict, target: Path | None = None) -> Path:
    """Write a trained CrossEncoder into the package as fp16 safetensors, with its card and weight hashes."""
    import torch

    target = Path(target or HOUSE_DIR)
    card = dict(card)
    model.model.to(torch.float16)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".house-", dir=target.parent))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        (tmp / "README.md").unlink(missing_ok=True)
        for f in tmp.iterdir():
            f.chmod(0o644)
        card["files"] = {f.name: sha256_file(f) for f in sorted(tmp.iterdir()) if f.suffix in _WEIGHTS}
        card["shipped"] = {**card.get("shipped", {}), "dtype": "float16", "served_dtype": "float32"}
        (tmp / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.chmod(0o755)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
