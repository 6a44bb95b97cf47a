"""Training recipe of the ``urban`` scene classifier, shared by its release script and by
``benchmarks/urbansound.py``.

The network and augmentation are the ``scenes`` recipe's (:mod:`gabortag.training.clips`):
power mels computed once per clip, random gain, background mixed in, band-limiting, mixup,
SpecAugment, crops of 3 s of the 4 s clips, a fixed number of clips per class per epoch, and
the last epoch kept (no model selection on a test fold).

Training clips for a test fold ``k``: every UrbanSound8K clip outside fold ``k``, the
training clips of the four extra classes (the recorded Speech Commands noises are only mixed
in, as in ``scenes``), and, in the ``shipped`` recipe, ESC-10 folds 1-4 of classes outside the
label set as ``background``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..clips import Augmenter, accuracy, fit, power_mels, predict, set_normalisation
from ..nets.scenenet import SceneConfig, SceneNet
from .scenes_data import bandlimit
from .urban_data import CLASSES, URBAN_CLASSES, build_urban

RECIPES = ("benchmark", "shipped")
PER_CLASS = 96  # clips of each class drawn per epoch
CROP = 300  # frames (3 s) of each 4 s clip per draw


def prepare(
    urban_root: Path, data_dir: Path, extra_dir: Path | None, cache: Path
) -> dict[str, np.ndarray]:
    """Clips of :func:`~.urban_data.build_urban` (with the ESC-10 background clips, which the
    ``benchmark`` recipe leaves out) and their power mels, plain and band-limited, cached at
    ``cache`` (``.npz``)."""
    if cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    clips = build_urban(urban_root, data_dir, extra_dir, esc10_background=True)
    net = SceneNet(SceneConfig())
    audio = clips.pop("audio")
    clips["mel"] = power_mels(net, audio)
    clips["mel_band"] = power_mels(net, np.stack([bandlimit(a) for a in audio]))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **clips)  # type: ignore[arg-type]
    tmp.replace(cache)
    return clips


def is_urban(data: dict[str, np.ndarray]) -> np.ndarray:
    """Mask of the UrbanSound8K clips."""
    mask: np.ndarray = data["source"] == "urbansound8k"
    return mask


def training_index(data: dict[str, np.ndarray], test_fold: int, recipe: str) -> np.ndarray:
    """Clips that train a network tested on UrbanSound8K fold ``test_fold`` (see module doc)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    urban = is_urban(data)
    source = data["source"]
    esc = np.char.startswith(source.astype(str), "esc10/")
    recorded = source == "speech_commands/_silence_"
    extra = ~urban & ~esc & (data["split"] == "train") & ~recorded
    keep = (urban & (data["fold"] != test_fold)) | extra
    if recipe == "shipped":
        keep |= esc
    return np.flatnonzero(keep)


def noise_index(data: dict[str, np.ndarray]) -> np.ndarray:
    """Clips mixed in as background noise: the synthetic and recorded ``background`` training
    clips (not the ESC-10 ones, which are sounds, not noise beds)."""
    src = data["source"].astype(str)
    return np.flatnonzero(
        (data["label"] == CLASSES.index("background"))
        & (data["split"] == "train")
        & ~np.char.startswith(src, "esc10/")
    )


def train_urban(
    data: dict[str, np.ndarray],
    test_fold: int,
    out: Path | None,
    epochs: int,
    *,
    recipe: str = "shipped",
    first_layer: str = "gabor",
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> tuple[SceneNet, list[dict[str, float]]]:
    """Train the fourteen-class network without UrbanSound8K fold ``test_fold``; resumes from
    ``out/last.pt`` (see :func:`~gabortag.training.clips.fit`)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train_idx = training_index(data, test_fold, recipe)
    config = replace(SceneConfig(), n_classes=len(CLASSES), first_layer=first_layer)
    net = SceneNet(config, seed=seed)
    set_normalisation(net, data["mel"][train_idx])
    aug = Augmenter(
        data["mel"],
        data["mel_band"],
        data["label"],
        len(CLASSES),
        data["mel"][noise_index(data)],
        rng,
        crop=CROP,
        silence=0.3,
    )
    history = fit(net, aug, train_idx, epochs=epochs, out=out, say=say, per_class=PER_CLASS)
    return net, history


def save_model(net: SceneNet, history: list[dict[str, float]], path: Path) -> None:
    """A trained network's checkpoint: weights, config, labels, epochs run and their records."""
    torch.save(
        {
            "model": net.state_dict(),
            "config": net.config.to_dict(),
            "labels": list(CLASSES),
            "epochs": len(history),
            "history": history,
        },
        path,
    )


def fold_result(
    data: dict[str, np.ndarray],
    test_fold: int,
    first_layer: str,
    out: Path,
    epochs: int,
    *,
    recipe: str = "benchmark",
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train (:func:`train_urban`) and score on fold ``test_fold`` after the last epoch; a test
    clip's label is the highest-scoring of the ten UrbanSound8K labels. Cached in
    ``out/result.json`` and ``out/model.pt``."""
    result_path = out / "result.json"
    if result_path.exists():
        loaded: dict[str, Any] = json.loads(result_path.read_text())
        return loaded
    net, history = train_urban(
        data, test_fold, out, epochs, recipe=recipe, first_layer=first_layer, seed=seed, say=say
    )
    test_idx = np.flatnonzero(is_urban(data) & (data["fold"] == test_fold))
    probs = predict(net, data["mel"][test_idx])
    labels = data["label"][test_idx]
    result = {
        "fold": test_fold,
        "first_layer": first_layer,
        "recipe": recipe,
        "clips": len(test_idx),
        "accuracy": accuracy(probs, labels, among=range(len(URBAN_CLASSES))),
        "accuracy_all_labels": accuracy(probs, labels),
        "parameters": sum(p.numel() for p in net.parameters()),
        "first_layer_parameters": sum(p.numel() for p in net.gabor.parameters()),
        "epochs": epochs,
        "seconds": round(sum(h["seconds"] for h in history), 1),
    }
    save_model(net, history, out / "model.pt")
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    return result
