"""Fine-tune (or train from scratch) the voice activity network on your own labelled recordings.

Used by ``gabortag train vad``. The recordings are a folder of audio files; the reference is an
RTTM file (plus an optional UEM of the scored regions) or a CSV ``file,start,end`` of speech
segments, matched to the audio files by stem as ``gabortag eval`` does. Files are split, never
segments: every 8th matched file (sorted by id) validates. Training crops the recordings at
random with exact labels on the 20 ms output hop (the fraction of the 10 ms reference frames
that are speech; frames outside the UEM are left out of the loss), keeps the checkpoint with
the best validation ROC-AUC, and resumes from ``last.pt``. :func:`release` exports the ONNX
model, tunes its decisions on the validation files and writes the card with their metrics.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import nn

from .. import __version__
from ..errors import AnnotationError
from ..inference import Model
from ..io.annotations import is_rttm, read_speech_reference, read_uem
from ..io.audio import load_audio
from ..io.discover import is_audio_name
from ..models import ModelSpec, sha256_of
from ..tasks.vad.evaluate import FRAME_S, Reference, keyed_by_stem, reference_id, reference_labels
from .export import export_onnx, write_json
from .frames import Recording, fit, normalise_inputs, split_files
from .nets.framenet import VadConfig, VadNet, from_checkpoint
from .recipes.release_vad import measure, tune, vad_metadata
from .recipes.train_vad import evaluate

VAD_CONFIG = VadConfig()


def load_references(audio_dir: Path, reference: Path, uem: Path | None = None) -> list[Reference]:
    """The audio files of ``audio_dir`` that the reference (or the UEM) names, sorted by id,
    with their 10 ms labels (:func:`gabortag.tasks.vad.evaluate.reference_labels`)."""
    speech = read_speech_reference(reference)
    if not is_rttm(reference):
        speech = keyed_by_stem(reference, speech)
    regions = read_uem(uem) if uem is not None else {}
    paths: dict[str, Path] = {}
    for path in sorted(audio_dir.iterdir()):
        rid = reference_id(path.name)
        if not (path.is_file() and is_audio_name(path.name)) or (
            rid not in speech and rid not in regions
        ):
            continue
        if rid in paths:
            raise AnnotationError(
                str(reference), f"{paths[rid].name} and {path.name} both match file id {rid!r}"
            )
        paths[rid] = path
    if not paths:
        raise AnnotationError(
            str(reference),
            f"names no audio file in {audio_dir} (files are matched by stem, e.g. file id "
            f"'rec1' matches rec1.wav; the reference names {sorted(speech)[:5]})",
        )
    return [
        Reference(
            rid,
            path,
            reference_labels(
                speech.get(rid, []),
                round(sf.info(str(path)).duration / FRAME_S),
                regions.get(rid),
            ),
        )
        for rid, path in sorted(paths.items())
    ]


def hop_targets(labels: np.ndarray, n_out: int, ratio: int) -> np.ndarray:
    """Targets ``(n_out,)`` float32 on the output hop (``ratio`` 10 ms frames each): the
    fraction of the scored frames that are speech, or -1 where no frame is scored."""
    padded = np.full(n_out * ratio, -1, np.int8)
    padded[: min(len(labels), len(padded))] = labels[: len(padded)]
    frames = padded.reshape(n_out, ratio)
    scored = (frames >= 0).sum(axis=1)
    speech = (frames == 1).sum(axis=1)
    return np.where(scored > 0, speech / np.maximum(scored, 1), -1.0).astype(np.float32)


def masked_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE-with-logits averaged over the frames whose target is not -1."""
    keep = (target >= 0).float()
    loss = nn.functional.binary_cross_entropy_with_logits(
        logits, target.clamp_min(0), reduction="none"
    )
    return (loss * keep).sum() / keep.sum().clamp_min(1.0)


def train(
    audio_dir: Path,
    reference: Path,
    out: Path,
    *,
    uem: Path | None = None,
    config: VadConfig = VAD_CONFIG,
    init: Path | None = None,
    epochs: int = 20,
    batch_size: int = 16,
    seconds: float = 4.0,
    lr: float | None = None,
    seed: int = 0,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, object]:
    """Train from scratch (``config``) or fine-tune ``init`` (a voice activity checkpoint; its
    own architecture is kept) and write ``out/best.pt``, ``out/last.pt`` and ``out/log.jsonl``.
    ``lr`` defaults to 3e-3 from scratch and 1e-3 when fine-tuning."""
    say = log or (lambda msg: print(msg, flush=True))
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    refs = {r.file_id: r for r in load_references(audio_dir, reference, uem)}
    train_ids, val_ids, _ = split_files(list(refs), "none")
    val_labels = np.concatenate([refs[f].labels for f in val_ids])
    if not ((val_labels == 0).any() and (val_labels == 1).any()):
        raise ValueError(
            f"the validation files {val_ids} need both scored speech and scored non-speech"
        )
    if init is not None:
        from .checkpoints import load_training_checkpoint  # it imports this module

        net = from_checkpoint(load_training_checkpoint(init))
        if net.config.n_outputs != 1 or net.config.sample_rate != 16000:
            raise ValueError(f"{init} is not a voice activity checkpoint")
    else:
        net = VadNet(dataclasses.replace(config, n_outputs=1), seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    wavs = {f: load_audio(refs[f].audio, net.config.sample_rate)[0] for f in refs}
    ratio = round(net.hop / (net.config.sample_rate * FRAME_S))
    train_recs = [
        Recording(f, wavs[f], hop_targets(refs[f].labels, -(-len(wavs[f]) // net.hop), ratio))
        for f in train_ids
    ]
    say(f"{len(train_ids)} training files, {len(val_ids)} validation files {val_ids}")
    if init is None:
        normalise_inputs(net, train_recs)
    meta = {
        "task": "vad",
        "config": net.config.to_dict(),
        "init": str(init) if init is not None else None,
        "train_files": train_ids,
        "validation_files": val_ids,
    }
    dev = [(refs[f], wavs[f]) for f in val_ids]
    best = fit(
        net,
        train_recs,
        out,
        meta,
        loss=masked_bce,
        validate=lambda: {
            f"val_{k}": v for k, v in evaluate(net, {"validation": dev}).items() if "/" not in k
        },
        key="val_auc",
        higher_is_better=True,
        epochs=epochs,
        batch_size=batch_size,
        n_out=round(seconds * net.config.sample_rate / net.hop),
        lr=lr if lr is not None else (3e-3 if init is None else 1e-3),
        rng=rng,
        say=say,
        fill=-1.0,
        device=device,
        on_epoch=on_epoch,
    )
    return {"best_val_auc": best, **meta}


def release(
    checkpoint: Path,
    audio_dir: Path,
    reference: Path,
    onnx_path: Path,
    *,
    uem: Path | None = None,
    name: str = "vad-custom",
) -> dict[str, Any]:
    """Export ``checkpoint`` to ``onnx_path``, tune its decisions on the validation files
    (frame F1), measure them through the ONNX file and write ``<stem>.card.json``."""
    ck = torch.load(checkpoint, weights_only=True)
    net = from_checkpoint(ck)
    refs = [
        r for r in load_references(audio_dir, reference, uem) if r.file_id in ck["validation_files"]
    ]
    example = net.receptive_field + 300 * net.hop
    export_onnx(net, onnx_path, vad_metadata(net, name), example)
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    opts, _ = tune(
        [model.score(load_audio(r.audio, model.sample_rate)[0]) for r in refs],
        refs,
        model.hop_seconds,
    )
    worst = export_onnx(net, onnx_path, vad_metadata(net, name, opts), example)
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    card: dict[str, Any] = {
        "name": name,
        "file": onnx_path.name,
        "task": "vad",
        "version": "1",
        "sample_rate": net.config.sample_rate,
        "hop_seconds": net.hop / net.config.sample_rate,
        "labels": ["speech"],
        "parameters": sum(p.numel() for p in net.parameters()),
        "architecture": net.config.to_dict(),
        "postprocess": opts.to_dict(),
        "postprocess_tuned_on": "validation files (frame F1)",
        "metrics": {
            "protocol": "gabortag/tasks/vad/evaluate.py (10 ms frames inside the UEM); "
            "split by file",
            "validation": measure(model, refs, opts),
        },
        "training": {
            "init": ck.get("init"),
            "epochs": ck.get("epochs_run"),
            "best_epoch": ck.get("epoch"),
            "validation_auc_during_training": ck.get("val_auc"),
            "train_files": len(ck["train_files"]),
            "validation_files": ck["validation_files"],
            "reference": str(reference),
            "uem": str(uem) if uem is not None else None,
        },
        "software": {"gabortag": __version__, "python": platform.python_version()},
        "export": {"opset": 17, "max_abs_diff_torch_vs_onnx": worst},
        "sha256": sha256_of(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
    }
    write_json(onnx_path.with_name(onnx_path.name.removesuffix(".onnx") + ".card.json"), card)
    return card
