"""Train, export, measure and card the bundled ``urban`` scene classifier.

``python -m gabortag.training.recipes.release_urban --data ../shared/data --extra extdata/x
--urban extdata/git/urbansound8k/UrbanSound8K/audio --bundle``

Protocol, fixed before training: the ``shipped`` recipe of
:mod:`~gabortag.training.recipes.train_urban` trains on UrbanSound8K folds 1, 2 and the
fold-3 clips present (with the four extra classes' training clips and ESC-10 folds 1-4 as
``background``), for a fixed number of epochs, the last one kept; fold 10 is the test fold,
scored once, on the exported ONNX file with :mod:`gabortag.tasks.scenes.evaluate` (what
``gabortag eval scenes`` runs). The extra classes' held-out clips are written as FLAC files,
one folder per class, so that ``gabortag eval scenes`` can reproduce the card.

UrbanSound8K is licensed CC BY-NC 3.0: the model is for non-commercial use.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...inference import Model
from ...models import ModelSpec
from ..export import bundle, export_onnx, gabor_parameters, json_meta, release_facts, write_json
from ..nets.scenenet import SceneNet, from_checkpoint
from .release_scenes import measure
from .train_urban import PER_CLASS, prepare, save_model, train_urban
from .urban_data import CLASSES, CLIP, SR, TEST_FOLD, WINDOW_S, urban_class, urban_files

NAME = "urban"
FILE_STEM = "urban-gabor-16k"
LICENCE = "CC BY-NC 3.0 (trained on UrbanSound8K): non-commercial use only"


def metadata(net: SceneNet, name: str) -> dict[str, str]:
    """ONNX metadata of an urban classifier: 4 s windows and hop, shortest window, labels."""
    c = net.config
    meta = {
        "gabortag.task": "scenes",
        "gabortag.name": name,
        "gabortag.version": "1",
        "gabortag.sample_rate": str(c.sample_rate),
        "gabortag.hop": str(CLIP),
        "gabortag.receptive_field": str(CLIP),
        "gabortag.left_pad": "0",
        "gabortag.min_samples": str(net.min_samples),
        "gabortag.labels": json_meta(list(CLASSES)),
        "gabortag.freq_range": json_meta([c.f_min, c.f_max]),
        "gabortag.config": json_meta(c.to_dict()),
        "gabortag.postprocess": json_meta({"top_k": 3, "min_score": 0.1}),
        "gabortag.licence": LICENCE,
    }
    if c.first_layer == "gabor":
        meta["gabortag.gabor"] = json_meta(gabor_parameters(net.gabor))
    return meta


def fold_files(urban_root: Path, fold: int) -> tuple[list[Path], list[str]]:
    """The UrbanSound8K clips of one fold and their labels (from their names)."""
    files = [p for p, _k in urban_files(urban_root, (fold,))]
    return files, [urban_class(p) for p in files]


def train_shipped(data: dict[str, np.ndarray], out: Path, epochs: int) -> SceneNet:
    """The bundled network (resumable; see :func:`~.train_urban.train_urban`)."""
    done = out / "model.pt"
    if done.exists():
        return from_checkpoint(torch.load(done, weights_only=True))
    net, history = train_urban(data, TEST_FOLD, out, epochs, recipe="shipped")
    save_model(net, history, done)
    return net.eval()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--urban", type=Path, required=True, help="UrbanSound8K audio/ (fold*/ inside)")
    p.add_argument(
        "--data", type=Path, required=True, help="the labelled data folder (../shared/data)"
    )
    p.add_argument("--extra", type=Path, required=True, help="unpacked Debian packages")
    p.add_argument("--cache", type=Path, default=Path("runs/urban/clips.npz"))
    p.add_argument("--out", type=Path, default=Path("runs/urban/ship"))
    p.add_argument(
        "--heldout",
        type=Path,
        default=Path("runs/scenes/heldout"),
        help="the extra classes' held-out clips (written by the scenes release step)",
    )
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bundle", action="store_true", help="write models/ and the manifest")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    extra = args.extra if args.extra.exists() else None
    data = prepare(args.urban, args.data, extra, args.cache)
    net = train_shipped(data, args.out, args.epochs)
    models = Path("models") if args.bundle else args.out
    onnx_path = models / f"{FILE_STEM}.onnx"
    worst = export_onnx(net, onnx_path, metadata(net, NAME), CLIP, window_classes=True)
    model = Model(ModelSpec(NAME, onnx_path, None), threads=1)
    metrics: dict[str, Any] = {"urbansound8k_fold10": measure(model, *fold_files(args.urban, 10))}
    heldout = sorted(args.heldout.rglob("*.flac"))
    if heldout:
        metrics["extra_heldout"] = measure(model, heldout, [q.parent.name for q in heldout])
    ck = torch.load(args.out / "model.pt", weights_only=True)
    fold10 = metrics["urbansound8k_fold10"]
    headline = {
        "UrbanSound8K fold 10 accuracy (ten urban labels)": fold10[
            "accuracy_within_reference_labels"
        ],
        "UrbanSound8K fold 10 accuracy (all fourteen labels)": fold10["accuracy"],
    }
    if "extra_heldout" in metrics:
        headline["extra classes held-out accuracy"] = metrics["extra_heldout"]["accuracy"]
    card: dict[str, Any] = {
        "name": NAME,
        "file": onnx_path.name,
        "task": "scenes",
        "version": "1",
        "licence": LICENCE,
        "description": "Sounds of streets and cities: UrbanSound8K's ten classes plus speech, "
        "music, birdsong and background (any other sound). Log-mel 64 bands 50-8000 Hz at 16 kHz "
        "-> 16 learnable Gabor kernels (9 mel bins x 250 ms, real and imaginary parts) -> three "
        "PANN-style blocks (32, 64, 128 channels) -> mean+max pooling over time -> class "
        "probabilities per 4 s window.",
        "sample_rate": SR,
        "window_seconds": WINDOW_S,
        "hop_seconds": WINDOW_S,
        "min_window_seconds": net.min_samples / SR,
        "labels": list(CLASSES),
        "parameters": sum(q.numel() for q in net.parameters()),
        "first_layer": net.config.first_layer,
        "architecture": net.config.to_dict(),
        "metrics": {
            "protocol": "gabortag/tasks/scenes/evaluate.py on the exported ONNX: 4 s windows, a "
            "clip's scores averaged over its windows weighted by their length; fold 10 scored "
            "once, after training; 'accuracy_within_reference_labels' takes the arg-max over "
            "the ten urban labels, as UrbanSound8K benchmarks do",
            **metrics,
        },
        "headline": headline,
        "references": "published UrbanSound8K 10-fold cross-validation (all ten folds): "
        "Piczak's CNN ~73 %, Salamon & Bello's SB-CNN 73 % (79 % with augmentation); this "
        "model is trained on three folds (one partial) and tested on one",
        "training": {
            "epochs_run": ck["epochs"],
            "epoch_kept": ck["epochs"],
            "clips_per_class_per_epoch": PER_CLASS,
            "history": ck["history"],
            "data": {
                "urbansound8k": "folds 1, 2 and 387 of fold 3's 925 clips (fold 10 held out), "
                "from the AC-II repository at commit 8f8b8f279a1f8b240a3b3019191229c225793e7a "
                "(22.05 kHz mono), resampled to 16 kHz; clips shorter than 4 s repeated",
                "speech, music, birdsong, background": "the scenes model's training clips of "
                "these classes (see its card)",
                "background (other sounds)": "ESC-10 folds 1-4 of all classes but dog_bark "
                "(fold 5 unseen)",
            },
        },
        **release_facts(onnx_path, worst),
        "checkpoint": f"{FILE_STEM}.pt",
    }
    write_json(onnx_path.with_name(f"{FILE_STEM}.card.json"), card)
    torch.save(
        {"task": "scenes"} | {k: ck[k] for k in ("model", "config", "labels", "epochs")},
        models / f"{FILE_STEM}.pt",
    )
    if args.bundle:
        bundle(models, FILE_STEM, card, {"licence": LICENCE})
    print(json.dumps(card["headline"], indent=1))


if __name__ == "__main__":
    main()
