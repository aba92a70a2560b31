"""Faster CPU backends for the cross-encoder: ONNX Runtime and OpenVINO behind CrossEncoder.predict's signature.

The torch model is exported once with plain `torch.onnx.export` (no optimum: it pins transformers < 5) and
quantised to int8 with onnxruntime's own dynamic quantiser; OpenVINO reads the same .onnx files. Exports live next
to a model directory (`<model>/onnx/`), or under the data dir for the house model (the package directory may be
read-only) and for hub models, keyed by the weights so that new weights are exported again, never served stale.

int8 is served only where it keeps the ranking: at export its top-10 over real passages (the demo knowledge base)
is compared with the fp32 export's, and the figure is written in export.json. Below it `auto` serves OpenVINO fp32
(same scores as torch, measurably faster) when installed, else torch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from assistant.paths import replaced_whole

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx", "openvino")
EXPORT_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MIN_INT8_AGREEMENT = 0.95
"""Top-10 agreement with fp32 an int8 export needs on the calibration passages to be served."""
_RUNTIME_MODULE = {"onnx": "onnxruntime", "openvino": "openvino"}


class BackendUnavailable(RuntimeError):
    """A backend that cannot run here (not installed, or the export failed); the caller falls back to torch."""


@dataclass(frozen=True)
class Loaded:
    model: object
    """Something with CrossEncoder.predict's signature."""
    backend: str
    """'torch', or runtime and precision such as 'onnx-int8': part of the score cache key."""


def installed(backend: str) -> bool:
    """Whether the runtime behind a backend can be imported (without importing it)."""
    import importlib.util
    import sys

    if backend == "torch":
        return True
    module = _RUNTIME_MODULE.get(backend)
    if module is None or (module in sys.modules and sys.modules[module] is None):  # None there: blocked
        return False
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cache_model_id(model_id: str, backend: str) -> str:
    """The score cache key: torch keeps the plain id so scores cached before backends existed stay valid."""
    return model_id if backend == "torch" else f"{model_id}+{backend}"


def weights_key(choice) -> str:
    """What identifies the weights: the card's sha256 for the house model, the file fingerprint otherwise."""
    if choice.origin == "house":
        files = choice.card.get("files") or {}
        return hashlib.sha256("".join(sorted(files.values())).encode()).hexdigest()[:16]
    if choice.origin == "hub":
        try:
            from huggingface_hub import try_to_load_from_cache
            found = try_to_load_from_cache(choice.target, "config.json")
        except ImportError:
            found = None
        # The snapshot folder is named by the commit: a new revision is new weights.
        return Path(found).parent.name[:16] if isinstance(found, str) else "unknown"
    return choice.model_id.rsplit("@", 1)[-1]


def export_dir(choice, data_dir: Path) -> Path:
    """Where the choice's exported files live."""
    if choice.origin in ("trained", "directory"):
        return Path(choice.target) / "onnx"
    label = "house" if choice.origin == "house" else choice.target.replace("/", "--")
    return Path(data_dir) / "models" / "cross-encoder-exports" / f"{label}-{weights_key(choice)}"


def _manifest(directory: Path) -> dict:
    try:
        data = json.loads((directory / "export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _current(directory: Path, key: str, max_length: int) -> dict | None:
    m = _manifest(directory)
    fresh = m.get("version") == EXPORT_VERSION and m.get("weights") == key and m.get("max_length") == max_length
    return m if fresh and all((directory / f).is_file() for f in m.get("files", {})) else None


def calibration_pairs(limit: int = 4) -> list[list[tuple[str, str]]]:
    """Real (question, passage) groups from the bundled demo knowledge base: what the int8 check ranks."""
    from assistant.paths import demo_kb_dir

    texts = [p.read_text(encoding="utf-8") for p in sorted(demo_kb_dir().rglob("*")) if p.is_file()]
    passages = [t[i:i + 900] for t in texts for i in range(0, min(len(t), 1800), 900) if t[i:i + 900].strip()]
    questions = ["How do I take a distributed lock without Redis?", "What is a fencing token?",
                 "ZooKeeper 如何实现分布式锁？", "不使用 Redis 的分布式锁实现方式有哪些？"][:limit]
    return [[(q, p) for p in passages[:30]] for q in questions]


def _top10_agreement(a: Sequence[float], b: Sequence[float]) -> float:
    k = min(10, len(a))
    return len(set(np.argsort(-np.asarray(a))[:k]) & set(np.argsort(-np.asarray(b))[:k])) / max(1, k)


def export(torch_model, directory: Path, key: str, max_length: int) -> dict:
    """Export a loaded sentence-transformers CrossEncoder to fp32 and int8 ONNX in directory; its manifest."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    start = time.perf_counter()
    with replaced_whole(directory) as tmp:
        net = torch_model.model.eval()

        class Logits(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).logits

        sample = torch_model.tokenizer(["a question"] * 2, ["a passage", "another passage"], padding=True,
                                       return_tensors="pt")
        args = tuple(sample.get(n, torch.zeros_like(sample["input_ids"])) for n in INPUTS)
        axes = {n: {0: "batch", 1: "sequence"} for n in INPUTS}
        # The TorchScript exporter: the dynamo one needs onnxscript and gains nothing for an encoder this size.
        # Its tracer warnings are about shapes the dynamic axes cover (checked against torch in the tests).
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Logits(net), args, str(tmp / "model.onnx"), input_names=list(INPUTS),
                              output_names=["logits"], dynamic_axes={**axes, "logits": {0: "batch"}},
                              opset_version=17, dynamo=False)
        # Per-channel weights keep the ranking closer to fp32 than per-tensor at the same speed.
        quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model.int8.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        torch_model.tokenizer.save_pretrained(str(tmp / "tokenizer"))
        activation = type(getattr(torch_model, "activation_fn", None)).__name__
        manifest = {"version": EXPORT_VERSION, "weights": key, "max_length": max_length,
                    "activation": "sigmoid" if activation == "Sigmoid" else "identity",
                    "files": {"model.onnx": "fp32", "model.int8.onnx": "int8"},
                    "exported_in_s": round(time.perf_counter() - start, 1)}
        fp32 = OrtCrossEncoder(tmp / "model.onnx", tmp / "tokenizer", max_length, manifest["activation"])
        int8 = OrtCrossEncoder(tmp / "model.int8.onnx", tmp / "tokenizer", max_length, manifest["activation"])
        groups = calibration_pairs()
        agreement = [_top10_agreement(fp32.predict(g), int8.predict(g)) for g in groups if g]
        manifest["int8_top10_agreement"] = round(float(np.mean(agreement)), 3) if agreement else None
        (tmp / "export.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    log.info("exported cross-encoder to %s in %.1f s (int8 agreement %s)", directory, manifest["exported_in_s"],
             manifest["int8_top10_agreement"])
    return manifest


class _Predictor:
    """Tokenise like CrossEncoder, run a graph, apply the model's activation: CrossEncoder.predict's contract."""

    def __init__(self, tokenizer_dir: Path, max_length: int, activation: str):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        self.max_length = max_length
        self.max_seq_length = max_length  # CrossEncoder's name for it, read by callers that inspect the model
        self.activation = activation

    def _logits(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, pairs, batch_size: int = 32, show_progress_bar: bool = False, convert_to_numpy: bool = True,
                **_ignored) -> np.ndarray:
        pairs = list(pairs)
        out: list[np.ndarray] = []
        for i in range(0, len(pairs), max(1, batch_size)):
            batch = pairs[i:i + batch_size]
            enc = self.tokenizer([a for a, _ in batch], [b for _, b in batch], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="np")
            feeds = {n: np.asarray(enc[n], dtype=np.int64) if n in enc else
                     np.zeros_like(enc["input_ids"], dtype=np.int64) for n in INPUTS}
            logits = np.asarray(self._logits(feeds), dtype=np.float32).reshape(len(batch), -1)
            out.append(1 / (1 + np.exp(-logits)) if self.activation == "sigmoid" else logits)
        scores = np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)
        return scores[:, 0] if scores.shape[1] == 1 else scores


class OrtCrossEncoder(_Predictor):
    def __init__(self, path: Path, tokenizer_dir: Path, max_length: int, activation: str,
                 threads: int | None = None):
        import onnxruntime as ort

        super().__init__(tokenizer_dir, max_length, activation)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _logits(self, feeds):
        return self.session.run(None, {n: feeds[n] for n in self.inputs})[0]


class OpenVinoCrossEncoder(_Predictor):
    def __init__(self, path: Path, tokenizer_dir: Path, max_length: int, activation: str,
                 threads: int | None = None):
        import openvino as ov

        super().__init__(tokenizer_dir, max_length, activation)
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.inputs = [p.get_any_name() for p in self.compiled.inputs]

    def _logits(self, feeds):
        return self.request.infer({n: feeds[n] for n in self.inputs})[0]


_RUNNERS = {"onnx": OrtCrossEncoder, "openvino": OpenVinoCrossEncoder}


def _plain_torch(backend: str) -> bool:
    # Without OpenVINO, auto would export only to measure an int8 that has failed its gate on the house model
    # (docs/EVAL.md): minutes of export before the first question, for nothing. `onnx` still asks for it.
    return backend == "torch" or (backend == "auto" and not installed("openvino"))


def exports(backend: str) -> bool:
    """Whether `load` would serve this backend from an export here (torch, and auto without OpenVINO, do not)."""
    return not _plain_torch(backend) and installed("onnx") and (backend != "openvino" or installed("openvino"))


def prepare(choice, max_length: int, backend: str, data_dir: Path, torch_loader) -> Path | None:
    """Export now what `load` would export on the first question (a model just trained); None: nothing to export.

    BackendUnavailable when the export fails (`load` would then serve torch)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown cross-encoder backend {backend!r}: use {', '.join(BACKENDS)}")
    if not exports(backend):
        return None
    return _exported(choice, max_length, data_dir, torch_loader)[0]


def load(choice, max_length: int, backend: str, data_dir: Path, torch_loader, threads: int | None = None) -> Loaded:
    """The cross-encoder on the backend asked for; torch (with one warning) when that backend cannot run.

    torch_loader() loads the sentence-transformers model: needed for torch, and once per weights for an export.
    `auto` serves ONNX Runtime int8 where the export measured it to keep the ranking, else OpenVINO fp32 when
    installed; ONNX Runtime fp32 measured no faster than torch here (docs/EVAL.md), so auto leaves it to torch.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown cross-encoder backend {backend!r}: use {', '.join(BACKENDS)}")
    if _plain_torch(backend):
        return Loaded(torch_loader(), "torch")
    if not installed("onnx") or (backend == "openvino" and not installed("openvino")):
        missing = "onnxruntime" if not installed("onnx") else "openvino"
        (log.info if backend == "auto" else log.warning)(
            "cross-encoder backend %s needs %s (pip install %s): using torch", backend, missing, missing)
        return Loaded(torch_loader(), "torch")
    try:
        directory, manifest = _exported(choice, max_length, data_dir, torch_loader)
        agreement = manifest.get("int8_top10_agreement")
        int8_ok = isinstance(agreement, (int, float)) and agreement >= MIN_INT8_AGREEMENT
        if backend == "auto":
            if not int8_ok and not installed("openvino"):
                log.info("cross-encoder int8 export agrees %s with fp32 (below %s): serving torch", agreement,
                         MIN_INT8_AGREEMENT)
                return Loaded(torch_loader(), "torch")
            backend = "onnx" if int8_ok else "openvino"
        int8 = int8_ok and backend == "onnx"
        file = "model.int8.onnx" if int8 else "model.onnx"
        model = _RUNNERS[backend](directory / file, directory / "tokenizer", max_length,
                                  manifest.get("activation", "sigmoid"), threads)
    except Exception as exc:
        log.warning("cross-encoder backend %s unavailable (%s: %s): using torch", backend, type(exc).__name__, exc)
        return Loaded(torch_loader(), "torch")
    return Loaded(model, f"{backend}-{'int8' if int8 else 'fp32'}")


def _exported(choice, max_length: int, data_dir: Path, torch_loader) -> tuple[Path, dict]:
    directory = export_dir(choice, data_dir)
    key = weights_key(choice)
    manifest = _current(directory, key, max_length)
    if manifest is None:
        try:
            manifest = export(torch_loader(), directory, key, max_length)
        except Exception as exc:
            raise BackendUnavailable(f"export to {directory} failed: {type(exc).__name__}: {exc}") from exc
    return directory, manifest
