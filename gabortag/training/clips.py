"""Training recipe of the scene classifier (:class:`~.scenenet.SceneNet`).

The log-mel front end has no learned parameters, so every clip's power mel spectrogram is
computed once; augmentation then works on power spectra, where sounds add:

- random gain (±20 dB), so that level does not tell a corpus apart;
- a background (``background``-class recording or synthetic noise) added 10–30 dB below the
  clip with probability 0.5, so that every class is heard over other sources' noise;
- the clip's band-limited twin (nothing above 4 kHz, as in 8 kHz sources) with probability 0.2;
- (shipped model) digital silence over 10-60 % of the clip at its start or end, with
  probability 0.3, so that silent padding (as in many ESC-10 clips) is no class cue;
- a circular time shift, then a crop of the first 3 s (the network pools over time, so it
  classifies 5 s windows as well; training on crops costs less);
- mixup (Beta(0.4, 0.4)) of two clips' power spectra and targets;
- SpecAugment: two mel-band masks (≤ 8 bands) and two time masks (≤ 0.5 s) in the normalised
  log-mel.

The Gabor parameters learn at ten times the back end's rate (AdamW, one-cycle schedule), so
that they move away from their shared initial values within a short run.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .nets.scenenet import SceneConfig, SceneNet
from .optim import load_resumable, optimiser_step, save_resumable
from .recipes.scenes_data import CLASSES, ESC10_CLASSES, bandlimit, build_clips

EPS = 1e-6


def power_mels(net: SceneNet, audio: np.ndarray, batch: int = 32) -> np.ndarray:
    """Power mel spectra ``(n, n_mels, frames)`` float32 of clips ``(n, samples)``."""
    out = []
    with torch.no_grad():
        for i in range(0, len(audio), batch):
            x = torch.from_numpy(np.ascontiguousarray(audio[i : i + batch], np.float32))
            out.append((net.frontend(x).exp() - net.frontend.eps).clamp_min(0).numpy())
    return np.concatenate(out)


def prepare(data_dir: Path, extra_dir: Path | None, cache: Path) -> dict[str, np.ndarray]:
    """Clips of :func:`~.scenes_data.build_clips` and their power mels (plain and band-limited),
    cached at ``cache`` (``.npz``)."""
    if cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    clips = build_clips(data_dir, extra_dir).arrays()
    net = SceneNet(SceneConfig())
    audio = clips.pop("audio")
    clips["mel"] = power_mels(net, audio)
    clips["mel_band"] = power_mels(net, np.stack([bandlimit(a) for a in audio]))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **clips)  # type: ignore[arg-type]
    tmp.replace(cache)
    return clips


class Augmenter:
    """Draws augmented training batches of normalised log-mel from power mels."""

    def __init__(
        self,
        mel: np.ndarray,
        mel_band: np.ndarray,
        labels: np.ndarray,
        n_classes: int,
        noise: np.ndarray,
        rng: np.random.Generator,
        mixup: float = 0.4,
        crop: int = 300,
        silence: float = 0.0,
    ) -> None:
        self.mel, self.mel_band, self.labels = mel, mel_band, labels
        self.n_classes, self.noise, self.rng, self.mixup = n_classes, noise, rng, mixup
        self.crop = crop
        self.silence = silence

    def _one(self, i: int) -> np.ndarray:
        rng = self.rng
        p = self.mel_band[i] if rng.random() < 0.2 else self.mel[i]
        p = p * 10 ** (rng.uniform(-20, 20) / 10)
        if self.silence and rng.random() < self.silence:  # digital silence at one end
            n = int(p.shape[1] * rng.uniform(0.1, 0.6))
            p = p.copy()
            if rng.random() < 0.5:
                p[:, :n] = 0
            else:
                p[:, p.shape[1] - n :] = 0
        if len(self.noise) and rng.random() < 0.5:
            bg = self.noise[int(rng.integers(len(self.noise)))]
            bg = np.roll(bg, int(rng.integers(bg.shape[1])), axis=1)
            level = p.mean() / max(float(bg.mean()), 1e-12) * 10 ** (-rng.uniform(10, 30) / 10)
            p = p + bg * level
        rolled: np.ndarray = np.roll(p, int(rng.integers(p.shape[1])), axis=1)
        return rolled[:, : self.crop]

    def batch(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Power mels ``(B, n_mels, frames)`` and soft targets ``(B, n_classes)``."""
        rng = self.rng
        x = np.stack([self._one(int(i)) for i in index])
        y = np.eye(self.n_classes, dtype=np.float32)[self.labels[index]]
        if self.mixup > 0:
            lam = rng.beta(self.mixup, self.mixup, size=len(index)).astype(np.float32)
            perm = rng.permutation(len(index))
            x = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
            y = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
        return x.astype(np.float32), y


def spec_augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Two mel-band masks of up to 8 bands and two time masks of up to 50 frames, set to 0."""
    x = x.clone()
    b, f, t = x.shape
    for j in range(b):
        for _ in range(2):
            w = int(rng.integers(0, 9))
            s = int(rng.integers(0, f - w + 1))
            x[j, s : s + w] = 0
            w = int(rng.integers(0, 51))
            s = int(rng.integers(0, max(1, t - w + 1)))
            x[j, :, s : s + w] = 0
    return x


def log_mel(net: SceneNet, power: torch.Tensor) -> torch.Tensor:
    """Normalised log-mel of power mels, as :meth:`SceneNet.features` computes it."""
    return (torch.log(power + EPS) - net.mel_mean) / net.mel_std


def set_normalisation(net: SceneNet, mel: np.ndarray) -> None:
    logm = np.log(mel + EPS)
    net.mel_mean.copy_(torch.from_numpy(logm.mean(axis=(0, 2))[:, None]))
    net.mel_std.copy_(torch.from_numpy(logm.std(axis=(0, 2))[:, None]).clamp_min(1e-3))


def predict(net: SceneNet, mel: np.ndarray, batch: int = 50) -> np.ndarray:
    """Class probabilities ``(n, n_classes)`` of whole clips (power mels)."""
    net.eval()
    device = net.mel_mean.device
    out = []
    with torch.no_grad():
        for i in range(0, len(mel), batch):
            logits = net.classify(log_mel(net, torch.from_numpy(mel[i : i + batch]).to(device)))
            out.append(torch.softmax(logits, -1).cpu().numpy())
    return np.concatenate(out)


def fit(
    net: SceneNet,
    aug: Augmenter,
    train_idx: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    gabor_lr_scale: float = 10.0,
    out: Path | None = None,
    validate: Callable[[], dict[str, float]] | None = None,
    say: Callable[[str], None] = print,
    per_class: int | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    device: str = "cpu",
) -> list[dict[str, float]]:
    """Train ``net`` on clips ``train_idx`` of ``aug``; returns one record per epoch.

    ``per_class``: each epoch draws at most this many clips of each class (a fresh draw every
    epoch), so that classes with many clips do not outweigh the others. ``on_epoch(record)``
    is called after each epoch (after ``validate``), e.g. to keep the best network.

    With ``out``, each epoch appends a JSON line to ``out/log.jsonl`` and saves a resumable
    ``out/last.pt``; a run finding ``out/last.pt`` resumes after its epoch.
    """
    rng = aug.rng
    net.to(device)
    by_class = [train_idx[aug.labels[train_idx] == c] for c in np.unique(aug.labels[train_idx])]

    def epoch_order() -> np.ndarray:
        if per_class is None:
            return rng.permutation(train_idx)
        return rng.permutation(np.concatenate([rng.permutation(ix)[:per_class] for ix in by_class]))

    n_epoch = sum(len(ix) if per_class is None else min(len(ix), per_class) for ix in by_class)
    steps = max(1, math.ceil(n_epoch / batch_size))
    is_gabor = net.config.first_layer == "gabor"
    gabor = list(net.gabor.parameters()) if is_gabor else []
    rest = [p for n, p in net.named_parameters() if not (is_gabor and n.startswith("gabor."))]
    groups: list[dict[str, Any]] = [{"params": rest, "lr": lr}]
    max_lr = [lr]
    if gabor:
        groups.append({"params": gabor, "lr": lr * gabor_lr_scale, "weight_decay": 0.0})
        max_lr.append(lr * gabor_lr_scale)
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, total_steps=epochs * steps, pct_start=0.15
    )
    history: list[dict[str, float]] = []
    epoch = 0
    last = out / "last.pt" if out is not None else None
    if last is not None and last.exists():
        ck = load_resumable(last, net, opt, sched, rng, device)
        epoch, history = ck["epoch"], ck["history"]
        say(f"resumed after epoch {epoch}")
    loss_fn = nn.CrossEntropyLoss()
    while epoch < epochs:
        net.train()
        t0, running = time.time(), 0.0
        order = epoch_order()
        for s in range(steps):
            index = order[s * batch_size : (s + 1) * batch_size]
            if len(index) < 2:
                continue
            x, y = aug.batch(index)
            feats = spec_augment(log_mel(net, torch.from_numpy(x).to(device)), rng)
            target = torch.from_numpy(y).to(device)
            running += optimiser_step(net, opt, sched, loss_fn(net.classify(feats), target))
        epoch += 1
        record: dict[str, float] = {"epoch": epoch, "loss": round(running / steps, 4)}
        if validate is not None:
            record.update({k: round(float(v), 4) for k, v in validate().items()})
        record["seconds"] = round(time.time() - t0, 1)
        history.append(record)
        say(json.dumps(record))
        if on_epoch is not None:
            on_epoch(record)
        if out is not None and last is not None:
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            save_resumable(
                last,
                net,
                opt,
                sched,
                rng,
                config=net.config.to_dict(),
                epoch=epoch,
                history=history,
            )
    net.to("cpu").eval()
    return history


def accuracy(probs: np.ndarray, labels: np.ndarray, among: Sequence[int] | None = None) -> float:
    """Top-1 accuracy; with ``among``, the arg-max is taken over those classes only."""
    if among is not None:
        cols = np.array(among)
        pred = cols[np.argmax(probs[:, cols], axis=1)]
    else:
        pred = np.argmax(probs, axis=1)
    return float(np.mean(pred == labels))


RECIPES = ("shipped", "esc10-only")


def training_index(
    data: dict[str, np.ndarray], test_fold: int, recipe: str = "shipped"
) -> np.ndarray:
    """Training clips: ESC-10 outside ``test_fold``; with the ``shipped`` recipe also the
    extra classes' training clips, except the recorded noises of ``background``.

    The ``background`` class is quiet rooms, hum and wind; the recorded noises (running tap,
    white noise, ...) overlap rain or helicopter, so they only serve as mixed-in noise
    (:func:`noise_index`).
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    labels, folds, split = data["label"], data["fold"], data["split"]
    esc = labels < len(ESC10_CLASSES)
    if recipe == "esc10-only":
        return np.flatnonzero(esc & (folds != test_fold))
    recorded = (labels == CLASSES.index("background")) & (
        data["source"] == "speech_commands/_silence_"
    )
    return np.flatnonzero((esc & (folds != test_fold)) | (~esc & (split == "train") & ~recorded))


def noise_index(data: dict[str, np.ndarray]) -> np.ndarray:
    """Clips mixed in as background noise: every training clip of the ``background`` class."""
    return np.flatnonzero(
        (data["label"] == CLASSES.index("background")) & (data["split"] == "train")
    )


def train_recipe(
    data: dict[str, np.ndarray],
    test_fold: int,
    out: Path | None,
    epochs: int,
    *,
    recipe: str = "shipped",
    first_layer: str = "gabor",
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> tuple[SceneNet, list[dict[str, float]], list[str]]:
    """Train a scene network by ``recipe`` on the clips of :func:`training_index` (ESC-10
    fold ``test_fold`` left out); returns the network, its epoch records and its labels.

    ``recipe="shipped"`` is the shipped model's: fourteen classes (the extra classes'
    training clips too), 32 clips per class per epoch, silent padding at one end of 30 % of
    the clips. ``"esc10-only"``: ten classes, ESC-10 clips only, no silent padding. Resumes
    from ``out/last.pt`` (see :func:`fit`).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_idx = training_index(data, test_fold, recipe)
    shipped = recipe == "shipped"
    labels = list(CLASSES) if shipped else list(ESC10_CLASSES)
    config = replace(SceneConfig(), n_classes=len(labels), first_layer=first_layer)
    net = SceneNet(config, seed=seed)
    set_normalisation(net, data["mel"][train_idx])
    noise = data["mel"][noise_index(data)]
    aug = Augmenter(
        data["mel"],
        data["mel_band"],
        data["label"],
        len(labels),
        noise,
        rng,
        silence=0.3 if shipped else 0.0,
    )
    per_class = 32 if shipped else None
    history = fit(net, aug, train_idx, epochs=epochs, out=out, say=say, per_class=per_class)
    return net, history, labels


def esc10_fold(
    data: dict[str, np.ndarray],
    fold: int,
    first_layer: str,
    out: Path,
    epochs: int,
    seed: int = 0,
    say: Callable[[str], None] = print,
    recipe: str = "shipped",
) -> dict[str, Any]:
    """ESC-10 cross-validation run: train by ``recipe`` (:func:`train_recipe`) without
    ``fold``, report the accuracy on ``fold`` after the last epoch (no model selection on the
    test fold); a test clip's label is the highest-scoring of the ten ESC-10 labels."""
    result_path = out / "result.json"
    if result_path.exists():
        loaded: dict[str, Any] = json.loads(result_path.read_text())
        return loaded
    net, history, labels_out = train_recipe(
        data, fold, out, epochs, recipe=recipe, first_layer=first_layer, seed=seed, say=say
    )
    labels = data["label"]
    test_idx = np.flatnonzero((labels < len(ESC10_CLASSES)) & (data["fold"] == fold))
    probs = predict(net, data["mel"][test_idx])
    result = {
        "fold": fold,
        "first_layer": first_layer,
        "recipe": recipe,
        "accuracy": accuracy(probs, labels[test_idx], among=range(len(ESC10_CLASSES))),
        "parameters": sum(p.numel() for p in net.parameters()),
        "first_layer_parameters": sum(p.numel() for p in net.gabor.parameters()),
        "epochs": epochs,
        "seconds": sum(h["seconds"] for h in history),
    }
    torch.save(
        {
            "task": "scenes",
            "model": net.state_dict(),
            "config": net.config.to_dict(),
            "labels": labels_out,
        },
        out / "model.pt",
    )
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def data_arguments(doc: str | None, out: str) -> argparse.ArgumentParser:
    """The command-line parser of the scene recipes, with the data, cache and output folders."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data", type=Path, required=True, help="the labelled data folder (../shared/data)"
    )
    p.add_argument("--extra", type=Path, required=True, help="unpacked Debian packages")
    p.add_argument("--cache", type=Path, default=Path("runs/scenes/clips.npz"))
    p.add_argument("--out", type=Path, default=Path(out))
    return p


def main(argv: list[str] | None = None) -> None:
    p = data_arguments(__doc__, "runs/scenes")
    p.add_argument("--fold", type=int, default=5)
    p.add_argument("--first-layer", default="gabor")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--recipe", default="shipped", choices=RECIPES)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = prepare(args.data, args.extra if args.extra.exists() else None, args.cache)
    res = esc10_fold(
        data,
        args.fold,
        args.first_layer,
        args.out / f"{args.first_layer}-fold{args.fold}",
        args.epochs,
        recipe=args.recipe,
    )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
