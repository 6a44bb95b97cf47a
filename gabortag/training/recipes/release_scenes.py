"""Train, export, measure and card the shipped scene classifier.

``python -m gabortag.training.recipes.release_scenes --data ../shared/data --extra extdata/x
--bundle``

Trains the fourteen-class network (ESC-10 folds 1-4 plus the training clips of ``speech``,
``music``, ``birdsong`` and ``background``, 32 clips per class per epoch, as many as ESC-10
has), exports it
to ONNX (waveform window in, class probabilities out), then measures the ONNX file with
:mod:`gabortag.tasks.scenes.evaluate` on ESC-10 fold 5 and on the held-out clips of the extra
classes, which it writes as FLAC files, one folder per class, so that ``gabortag eval scenes`` can
reproduce the card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from ...inference import Model
from ...models import ModelSpec
from ...tasks.scenes.evaluate import classify_files, scene_report
from ..clips import data_arguments, prepare, train_recipe
from ..export import bundle, export_onnx, gabor_parameters, json_meta, release_facts, write_json
from ..nets.scenenet import SceneNet, from_checkpoint
from .scenes_data import CLASSES, CLIP, SR, build_clips, esc10_rows

NAME = "scenes"
FILE_STEM = "scenes-gabor-16k"
WINDOW_S = 5.0
HOP_S = 5.0


def metadata(net: SceneNet, name: str, labels: list[str]) -> dict[str, str]:
    """ONNX metadata of a scene classifier: default window and hop, shortest window, labels."""
    c = net.config
    meta = {
        "gabortag.task": "scenes",
        "gabortag.name": name,
        "gabortag.version": "1",
        "gabortag.sample_rate": str(c.sample_rate),
        "gabortag.hop": str(int(HOP_S * c.sample_rate)),
        "gabortag.receptive_field": str(int(WINDOW_S * c.sample_rate)),
        "gabortag.left_pad": "0",
        "gabortag.min_samples": str(net.min_samples),
        "gabortag.labels": json_meta(labels),
        "gabortag.freq_range": json_meta([c.f_min, c.f_max]),
        "gabortag.config": json_meta(c.to_dict()),
        "gabortag.postprocess": json_meta({"top_k": 3, "min_score": 0.1}),
    }
    if c.first_layer == "gabor":
        meta["gabortag.gabor"] = json_meta(gabor_parameters(net.gabor))
    return meta


def write_heldout(data_dir: Path, extra_dir: Path | None, folder: Path) -> list[Path]:
    """The held-out clips of the extra classes as FLAC, ``folder/<class>/<source>-<i>.flac``."""
    clips = build_clips(data_dir, extra_dir, log=lambda _m: None)
    paths = []
    for i, (wav, lab, split, src) in enumerate(
        zip(clips.audio, clips.label, clips.split, clips.source, strict=True)
    ):
        if split != "heldout":
            continue
        path = folder / CLASSES[lab] / f"{src.replace('/', '_')}-{i:04d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), np.clip(wav, -1, 1), SR, subtype="PCM_16")
        paths.append(path)
    return paths


def train_shipped(data: dict[str, np.ndarray], out: Path, epochs: int, seed: int = 0) -> SceneNet:
    """The fourteen-class network on ESC-10 folds 1-4 and the extra classes' training clips."""
    done = out / "model.pt"
    if done.exists():
        return from_checkpoint(torch.load(done, weights_only=True))
    net, history, labels = train_recipe(data, 5, out, epochs, seed=seed)
    torch.save(
        {
            "model": net.state_dict(),
            "config": net.config.to_dict(),
            "labels": labels,
            "epochs": epochs,
            "history": history,
        },
        done,
    )
    return net.eval()


def esc_fold_files(data_dir: Path, fold: int) -> tuple[list[Path], list[str]]:
    """The ESC-10 clips of one official fold and their labels."""
    rows = [r for r in esc10_rows(data_dir) if int(r["fold"]) == fold]
    return [data_dir / "esc10" / r["file"] for r in rows], [r["label"] for r in rows]


def measure(model: Model, files: list[Path], truth: list[str]) -> dict[str, Any]:
    """:func:`~gabortag.tasks.scenes.evaluate.scene_report` of the files' scores in the model's
    own windows (its metadata's window and hop), as ``gabortag eval scenes`` scores them."""
    probs = classify_files(model, files)
    return scene_report(truth, probs, list(model.info.labels))


def recipe_cross_validation(results: Path) -> dict[str, Any]:
    """The card's quote of the recipe's ESC-10 cross-validation: the Gabor row of ``results``
    (``benchmarks/esc10.py --recipe shipped --json``)."""
    doc = json.loads(results.read_text())
    if doc.get("recipe") != "shipped":
        raise SystemExit(f"{results}: not a cross-validation of the shipped recipe")
    (row,) = [r for r in doc["cross_validation"] if r["first_layer"] == "gabor"]
    return {
        "protocol": "benchmarks/esc10.py: ESC-10 official folds, this recipe trained on four "
        "(with the extra classes), tested on the fifth, ten ESC-10 labels, last epoch",
        "source": results.as_posix(),
        "mean_accuracy": row["mean_accuracy"],
        "folds": row["folds"],
        "fold_accuracy": row["fold_accuracy"],
        "epochs": row["epochs"],
    }


def main(argv: list[str] | None = None) -> None:
    p = data_arguments(__doc__, "runs/scenes/ship")
    p.add_argument("--heldout", type=Path, default=Path("runs/scenes/heldout"))
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bundle", action="store_true", help="write models/ and the manifest")
    p.add_argument(
        "--cross-validation",
        type=Path,
        default=None,
        help="results of benchmarks/esc10.py (recipe 'shipped') to quote in the card",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    extra = args.extra if args.extra.exists() else None
    data = prepare(args.data, extra, args.cache)
    net = train_shipped(data, args.out, args.epochs)
    models = Path("models") if args.bundle else args.out
    onnx_path = models / f"{FILE_STEM}.onnx"
    worst = export_onnx(
        net, onnx_path, metadata(net, NAME, list(CLASSES)), CLIP, window_classes=True
    )
    model = Model(ModelSpec(NAME, onnx_path, None), threads=1)
    heldout = sorted(args.heldout.rglob("*.flac")) or write_heldout(args.data, extra, args.heldout)
    esc_files, esc_truth = esc_fold_files(args.data, 5)
    metrics = {
        "esc10_fold5": measure(model, esc_files, esc_truth),
        "extra_heldout": measure(model, heldout, [q.parent.name for q in heldout]),
    }
    ck = torch.load(args.out / "model.pt", weights_only=True)
    headline = {
        "ESC-10 fold 5 accuracy": metrics["esc10_fold5"]["accuracy"],
        "extra classes held-out accuracy": metrics["extra_heldout"]["accuracy"],
    }
    cv = recipe_cross_validation(args.cross_validation) if args.cross_validation else None
    if cv is not None:
        headline["ESC-10 5-fold cross-validation mean (this recipe)"] = cv["mean_accuracy"]
    card: dict[str, Any] = {
        "name": NAME,
        "file": onnx_path.name,
        "task": "scenes",
        "version": "1",
        "description": "Sound scenes and events: the ten ESC-10 classes plus speech, music, "
        "birdsong and background. Log-mel 64 bands 50-8000 Hz at 16 kHz -> 16 learnable Gabor "
        "kernels (9 mel bins x 250 ms, real and imaginary parts) -> three PANN-style blocks "
        "(32, 64, 128 channels) -> mean+max pooling over time -> class probabilities per window.",
        "sample_rate": SR,
        "window_seconds": WINDOW_S,
        "hop_seconds": HOP_S,
        "min_window_seconds": net.min_samples / SR,
        "labels": list(CLASSES),
        "parameters": sum(q.numel() for q in net.parameters()),
        "first_layer": net.config.first_layer,
        "architecture": net.config.to_dict(),
        "metrics": {
            "protocol": "gabortag/scene_metrics.py on the exported ONNX: 5 s windows, a clip's "
            "scores averaged over its windows weighted by their length",
            **metrics,
        },
        "headline": headline,
        **({"recipe_cross_validation": cv} if cv is not None else {}),
        "training": {
            "epochs": ck["epochs"],
            "history": ck["history"],
            "data": {
                "esc10": "folds 1-4 (fold 5 held out)",
                "speech": "Speech Commands words, FSDD, GRID, Klettres, Asterisk prompts "
                "(en es fr it ru), meetings train split",
                "music": "Wesnoth 1.16 soundtrack, Asterisk music on hold",
                "birdsong": "Bengalese finch recordings, files whose number mod 5 != 4",
                "background": "synthetic room tone, mains hum and wind (the Speech Commands "
                "_silence_ noises - tap, dishes, bike, white and pink noise - are only mixed "
                "into other clips: they overlap rain and engines)",
                "held_out": "speakers, languages, tracks and recordings with crc32(name) % 5 == 4 "
                "(finch: number mod 5 == 4; meetings: development and test)",
                "debian_packages": sorted(q.name for q in (args.extra.parent).glob("*.deb"))
                if extra
                else [],
            },
            "against_corpus_cues": [
                "every source resampled to 16 kHz and cut or padded to 5 s windows",
                "random gain of +-20 dB on every clip, so level does not identify a corpus",
                "a background recording mixed into half of all clips at 10-30 dB below, "
                "so every class is heard over other corpora's noise",
                "20 % of clips of every class band-limited to 4 kHz, so that the 8 kHz "
                "sources (FSDD, Asterisk) do not make band-limiting a speech cue",
                "digital silence over 10-60 % of 30 % of clips of every class, so that the "
                "silent padding of many ESC-10 clips identifies no class",
                "mixup across classes and corpora, SpecAugment masks, circular time shifts",
            ],
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
        bundle(models, FILE_STEM, card)
    print(json.dumps(card["headline"], indent=1))


if __name__ == "__main__":
    main()
