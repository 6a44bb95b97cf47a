"""Train a scene classifier on your own clips: one folder per class.

Used by ``gabortag train scenes``. ``AUDIO/<class>/*.wav`` (any format gabortag reads, any
rate, any length): every file becomes 5 s windows at 16 kHz, labelled with its folder's name
(a file shorter than a window is repeated to fill it; a longer one gives one window every 5 s).
Files are split, never windows: every 5th file of each class (sorted by name) validates. The
network fine-tunes the bundled ``scenes`` model (a new output layer for your classes) or starts
from scratch; training uses the augmentation of :mod:`.train_scenes`, keeps the epoch with the
best validation accuracy and resumes from ``OUT/last.pt``. :func:`release` exports
``OUT/model.onnx`` and writes its card with the validation metrics, measured on the ONNX file.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AudioError
from ..inference import Model
from ..io.audio import load_audio
from ..io.discover import is_audio_name
from ..models import ModelSpec
from ..tasks.scenes.evaluate import clip_scores, scene_report
from .clips import Augmenter, accuracy, fit, power_mels, predict, set_normalisation
from .export import export_onnx, release_facts, write_json
from .nets.scenenet import SceneConfig, SceneNet, from_checkpoint
from .recipes.release_scenes import HOP_S, WINDOW_S, metadata

SR = 16000
WINDOW = int(WINDOW_S * SR)


def collect(audio_dir: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names (sub-folders holding audio, sorted) and ``(file, class index)`` pairs."""
    classes = sorted(
        d.name
        for d in audio_dir.iterdir()
        if d.is_dir() and any(is_audio_name(f.name) for f in d.rglob("*") if f.is_file())
    )
    if len(classes) < 2:
        raise ValueError(
            f"{audio_dir}: found {len(classes)} class folder(s) with audio; train scenes needs "
            "at least two, as AUDIO/<class>/<files>"
        )
    files = [
        (f, i)
        for i, c in enumerate(classes)
        for f in sorted((audio_dir / c).rglob("*"))
        if f.is_file() and is_audio_name(f.name)
    ]
    return classes, files


def split(files: list[tuple[Path, int]]) -> tuple[list[int], list[int]]:
    """Indices of training and validation files: every 5th file of each class validates (its
    2nd file when it has 2-4, so that every class with two files or more validates)."""
    totals = Counter(c for _, c in files)
    train: list[int] = []
    val: list[int] = []
    seen: Counter[int] = Counter()
    for i, (_, c) in enumerate(files):
        k = seen[c]
        seen[c] += 1
        (val if k % 5 == 4 or (k == 1 and totals[c] < 5) else train).append(i)
    return train, val


def windows(path: Path) -> list[np.ndarray]:
    """5 s windows at 16 kHz of one file; a shorter file is repeated to fill one window."""
    wav, _info = load_audio(str(path), SR)
    if len(wav) == 0:
        raise AudioError(str(path), "no audio (0 samples)")
    if len(wav) < WINDOW:
        return [np.resize(wav, WINDOW).astype(np.float32)]
    return [wav[s : s + WINDOW] for s in range(0, len(wav) - WINDOW + 1, WINDOW)]


def _initial(
    init: Path | None, n_classes: int, config: SceneConfig, seed: int
) -> tuple[SceneNet, bool]:
    """The network to train and whether it was fine-tuned (its normalisation is kept)."""
    if init is None:
        return SceneNet(dataclasses.replace(config, n_classes=n_classes), seed=seed), False
    from .checkpoints import load_training_checkpoint  # it imports this module

    base = from_checkpoint(load_training_checkpoint(init))
    net = SceneNet(dataclasses.replace(base.config, n_classes=n_classes), seed=seed)
    state = {k: v for k, v in base.state_dict().items() if not k.startswith("head.")}
    net.load_state_dict(state, strict=False)
    return net, True


def train(
    audio_dir: Path,
    out: Path,
    *,
    init: Path | None,
    epochs: int,
    seed: int,
    threads: int | None,
    config: SceneConfig | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train; writes ``out/best.pt`` (best validation accuracy) and ``out/last.pt``."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    classes, files = collect(audio_dir)
    train_files, val_files = split(files)
    clips: list[np.ndarray] = []
    labels: list[int] = []
    owner: list[int] = []
    skipped: list[str] = []
    for i, (path, c) in enumerate(files):
        try:
            wins = windows(path)
        except AudioError as err:
            skipped.append(str(err))
            log(f"skipped {err}")
            continue
        clips += wins
        labels += [c] * len(wins)
        owner += [i] * len(wins)
    if not clips:
        raise ValueError(f"{audio_dir}: no readable audio")
    net, tuned = _initial(init, len(classes), config or SceneConfig(), seed)
    mel = power_mels(net, np.stack(clips))
    y = np.array(labels)
    owners = np.array(owner)
    tr = np.flatnonzero(np.isin(owners, train_files))
    va = np.flatnonzero(np.isin(owners, val_files))
    if len(tr) == 0:
        raise ValueError(f"{audio_dir}: no training files left after the validation split")
    if not tuned:
        set_normalisation(net, mel[tr])
    rng = np.random.default_rng(seed)
    # no band-limited twins here: the plain mels stand in for them
    aug = Augmenter(mel, mel, y, len(classes), np.zeros((0, *mel.shape[1:]), np.float32), rng)
    out.mkdir(parents=True, exist_ok=True)
    best = {"accuracy": -1.0}
    if (out / "best.pt").exists() and (out / "last.pt").exists():  # resuming
        best["accuracy"] = float(torch.load(out / "best.pt", weights_only=True)["val_accuracy"])

    def validate() -> dict[str, float]:
        if len(va) == 0:
            return {}
        return {"val_accuracy": accuracy(predict(net, mel[va]), y[va])}

    def keep(record: dict[str, float]) -> None:
        acc = record.get("val_accuracy", record["epoch"])
        if acc > best["accuracy"]:
            best["accuracy"] = acc
            torch.save(
                {
                    "task": "scenes",
                    "model": {k: v.cpu() for k, v in net.state_dict().items()},
                    "config": net.config.to_dict(),
                    "labels": classes,
                    "epoch": record["epoch"],
                    "val_accuracy": acc,
                    "validation_files": [str(files[i][0]) for i in val_files],
                    "train_files": [str(files[i][0]) for i in train_files],
                    "skipped": skipped,
                    "fine_tuned_from": str(init) if init else None,
                },
                out / "best.pt",
            )
        if on_epoch is not None:
            on_epoch(record)

    def say(msg: str) -> None:
        if msg.startswith("resumed"):
            log(msg)

    history = fit(
        net,
        aug,
        tr,
        epochs=epochs,
        lr=1e-3 if tuned else 2e-3,
        out=out,
        validate=validate,
        say=say,
        on_epoch=keep,
        device=device,
    )
    return {"classes": classes, "history": history, "best_val_accuracy": best["accuracy"]}


def release(checkpoint: Path, onnx_path: Path, name: str = "scenes-custom") -> dict[str, Any]:
    """Export ``checkpoint`` to ``onnx_path``; measure it on the validation files; card it."""
    ck = torch.load(checkpoint, weights_only=True)
    net = from_checkpoint(ck)
    classes = list(ck["labels"])
    worst = export_onnx(net, onnx_path, metadata(net, name, classes), WINDOW, window_classes=True)
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    truth: list[str] = []
    scores: list[np.ndarray] = []
    for name in ck["validation_files"]:
        try:
            scores.append(clip_scores(model, name, WINDOW_S, HOP_S))
        except AudioError:  # reported and skipped when training read it
            continue
        truth.append(Path(name).parent.name)
    metrics: dict[str, Any] = {}
    if scores:
        metrics["validation"] = scene_report(truth, np.stack(scores), classes)
    card: dict[str, Any] = {
        "name": name,
        "file": onnx_path.name,
        "task": "scenes",
        "version": "1",
        "sample_rate": SR,
        "window_seconds": WINDOW_S,
        "hop_seconds": HOP_S,
        "labels": classes,
        "parameters": sum(p.numel() for p in net.parameters()),
        "architecture": net.config.to_dict(),
        "metrics": {"protocol": "gabortag/scene_metrics.py on the exported ONNX", **metrics},
        "training": {
            "best_epoch": ck["epoch"],
            "train_files": len(ck["train_files"]),
            "validation_files": ck["validation_files"],
            "skipped_files": ck["skipped"],
            "fine_tuned_from": ck["fine_tuned_from"],
        },
        **release_facts(onnx_path, worst),
    }
    write_json(onnx_path.with_name(onnx_path.name.removesuffix(".onnx") + ".card.json"), card)
    return card
