"""Export a trained network to ONNX with the metadata the runtime needs, verified against torch.

The graph maps a zero-padded waveform ``waveform (batch, samples)`` float32 to frame
probabilities ``scores (batch, frames)``; both axes are dynamic. Gabor kernels are computed
from their four parameters inside the graph (onnxruntime folds them at load). Metadata keys
are listed in :data:`gabortag.models.METADATA_KEYS`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models import sha256_of
from .nets.gabor import GaborConv2d

OPSET = 17


class _Probabilities(nn.Module):
    """Logits to probabilities: softmax over classes (``(B, T, C)`` frame classes or ``(B, C)``
    window classes with ``classes=True``), else a sigmoid per frame (``(B, T)``)."""

    def __init__(self, net: nn.Module, classes: bool = False) -> None:
        super().__init__()
        self.net = net
        self.classes = classes

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        logits = self.net(waveform)
        if logits.dim() == 3 or self.classes:
            return torch.softmax(logits, dim=-1)
        return torch.sigmoid(logits)


def gabor_parameters(layer: nn.Module) -> dict[str, Any]:
    """The four learned numbers of every kernel, as stored in the ONNX metadata."""
    if not isinstance(layer, GaborConv2d):
        raise TypeError(f"expected a GaborConv2d first layer, got {type(layer).__name__}")
    with torch.no_grad():
        return {
            "kernel_size": list(layer.kernel_size),
            "mode": layer.mode,
            "stride": layer.stride,
            "sigma_t": [round(float(v), 6) for v in layer.sigma_t],
            "sigma_f": [round(float(v), 6) for v in layer.sigma_f],
            "carrier": [round(float(v), 6) for v in layer.carrier],
            "gamma": [round(float(v), 6) for v in layer.gamma],
        }


def export_onnx(
    net: nn.Module,
    path: Path,
    metadata: dict[str, str],
    example_samples: int,
    tolerance: float = 1e-4,
    window_classes: bool = False,
) -> float:
    """Write ``net`` (in eval mode) to ``path`` as ONNX; returns the max |torch - onnx| seen.

    The model is checked on random input of two lengths and batch sizes before ``path`` is
    replaced (written to a temporary file first); a mismatch above ``tolerance`` raises.
    ``window_classes``: the network maps a window ``(B, N)`` to class logits ``(B, C)``, so
    the graph ends in a softmax and its output ``scores`` is ``(batch, classes)``.
    """
    import onnx
    import onnxruntime as ort

    net = net.eval()
    wrapper = _Probabilities(net, classes=window_classes).eval()
    example = torch.randn(1, example_samples) * 0.1
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            wrapper,
            (example,),
            str(tmp_path),
            input_names=["waveform"],
            output_names=["scores"],
            dynamic_axes={
                "waveform": {0: "batch", 1: "samples"},
                "scores": {0: "batch"} if window_classes else {0: "batch", 1: "frames"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
        proto = onnx.load(str(tmp_path))
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp_path))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(tmp_path), opts, providers=["CPUExecutionProvider"])
        worst = 0.0
        gen = torch.Generator().manual_seed(0)
        for batch, extra in ((1, 0), (3, 7919)):
            x = torch.randn(batch, example_samples + extra, generator=gen) * 0.1
            with torch.no_grad():
                ref = wrapper(x).numpy()
            got = sess.run(None, {"waveform": x.numpy()})[0]
            worst = max(worst, float(np.abs(ref - got).max()))
        if worst > tolerance:
            raise RuntimeError(f"ONNX export differs from torch by {worst:.2e} > {tolerance:.0e}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = path.with_suffix(".onnx.tmp")
        try:
            tmp_out.write_bytes(tmp_path.read_bytes())
            tmp_out.replace(path)
        finally:
            tmp_out.unlink(missing_ok=True)
    return worst


SOFTWARE = ("torch", "onnx", "onnxruntime", "numpy", "soundfile", "soxr")


def release_facts(onnx_path: Path, worst: float) -> dict[str, Any]:
    """Card entries of every released model: software versions, the export check (largest
    |torch - ONNX| seen), and the file's sha256 and size."""
    import importlib.metadata
    import platform

    from .. import __version__

    return {
        "software": {
            "gabortag": __version__,
            "python": platform.python_version(),
            **{pkg: importlib.metadata.version(pkg) for pkg in SOFTWARE},
        },
        "export": {"opset": OPSET, "max_abs_diff_torch_vs_onnx": worst},
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
    }


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as indented JSON, atomically (temporary file, then rename)."""
    from ..io.atomic import atomic_open

    with atomic_open(path) as f:
        f.write(json.dumps(value, indent=2) + "\n")


def checkpoint_fields(models: Path, card: dict[str, Any]) -> dict[str, str]:
    """The manifest fields of the training checkpoint that ``card`` names in ``models/``: its
    file and sha256 (what ``gabortag train --init NAME`` verifies); empty when there is none."""
    checkpoint = card.get("checkpoint")
    if not checkpoint or not (models / checkpoint).is_file():
        return {}
    return {"checkpoint": checkpoint, "checkpoint_sha256": sha256_of(models / checkpoint)}


def bundle(
    models: Path, stem: str, card: dict[str, Any], extra: dict[str, Any] | None = None
) -> None:
    """Add (or replace) the manifest entry of the model ``stem`` whose ``card`` was just
    written to ``models/``: name, alias, files, sha256, size, task, labels, sample rate, the
    training checkpoint the card names with its sha256 (for fine-tuning), and the ``extra``
    fields (e.g. a licence)."""
    path = models / "manifest.json"
    manifest = json.loads(path.read_text())
    entry = {
        "name": card["name"],
        "aliases": [stem],
        "file": card["file"],
        "card": f"{stem}.card.json",
        "sha256": card["sha256"],
        "size_bytes": card["size_bytes"],
        "task": card["task"],
        "labels": card["labels"],
        "sample_rate": card["sample_rate"],
        **(extra or {}),
    }
    entry.update(checkpoint_fields(models, card))
    manifest["models"] = [m for m in manifest["models"] if m["name"] != card["name"]] + [entry]
    write_json(path, manifest)


def json_meta(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
