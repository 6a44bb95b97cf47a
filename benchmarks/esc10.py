"""ESC-10 benchmark of the scene classifier: 5-fold cross-validation and its ablations.

For each first layer (the Gabor layer; a free 2-D convolution of the same kernel size and
output channels; none, the log-mel straight into the same back end) a network is trained on
four official folds and tested on the fifth, for each of the five folds, with a recipe of
:mod:`gabortag.training.clips` (the last epoch is tested: no model selection on the
test fold). The default recipe, ``shipped``, is the shipped model's: fourteen classes (the
extra classes' training clips, from other corpora, train beside the four ESC-10 folds), and
a test clip's label is the highest-scoring of the ten ESC-10 labels; ``esc10-only`` trains
ten classes on the ESC-10 clips alone.

Prints the mean and per-fold accuracy, parameter counts, and the real-time factor on one
thread of the exported ONNX (5 s windows, batches of 6, median of --repeats). Then the
shipped model (``scenes``) on ESC-10 fold 5 and on the held-out clips of its extra classes,
measured with :mod:`gabortag.tasks.scenes.evaluate` as the release step and ``gabortag eval scenes``
do.

    python benchmarks/esc10.py --data ../shared/data --extra extdata/x --jobs 2 \\
        --json benchmarks/results/esc10.json

Runs are resumable: a fold whose ``runs/scenes/cv-<recipe>/<layer>-fold<k>/result.json``
exists is not trained again. One fold of 100 epochs takes 3-20 minutes on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gabortag.errors import GabortagError
from gabortag.inference import Model, load_model
from gabortag.models import ModelSpec
from gabortag.training.clips import RECIPES, esc10_fold, prepare
from gabortag.training.export import export_onnx
from gabortag.training.nets.scenenet import from_checkpoint
from gabortag.training.recipes.release_scenes import esc_fold_files, measure, metadata
from gabortag.training.recipes.scenes_data import CLIP

LAYERS = ("gabor", "conv", "none")


def _run(args: tuple[Path, Path, Path | None, int, str, Path, int, str]) -> dict[str, Any]:
    cache, data_dir, extra, fold, layer, out, epochs, recipe = args
    torch.set_num_threads(1)
    data = prepare(data_dir, extra, cache)
    run_dir = out / f"{layer}-fold{fold}"
    return esc10_fold(data, fold, layer, run_dir, epochs, say=lambda _m: None, recipe=recipe)


def rtf(model: Model, repeats: int, seconds: float = 60.0) -> float:
    """Median seconds of computation per second of audio, 5 s windows in batches of 6."""
    rng = np.random.default_rng(0)
    n = int(seconds / 5)
    x = (rng.standard_normal((n, CLIP)) * 0.05).astype(np.float32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(0, n, 6):
            model.run(x[i : i + 6])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / seconds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--extra", type=Path, default=Path("extdata/x"))
    p.add_argument("--cache", type=Path, default=Path("runs/scenes/clips.npz"))
    p.add_argument("--out", type=Path, default=None, help="default: runs/scenes/cv-<recipe>")
    p.add_argument(
        "--recipe",
        default="shipped",
        choices=RECIPES,
        help="shipped: as the shipped model (14 classes, extra classes' clips too, silent "
        "padding), scored on the ten ESC-10 labels; esc10-only: ten classes, ESC-10 clips only",
    )
    p.add_argument("--heldout", type=Path, default=Path("runs/scenes/heldout"))
    p.add_argument("--layers", nargs="*", default=list(LAYERS), choices=LAYERS)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--no-train",
        action="store_true",
        help="report the folds already trained, train nothing (missing folds are listed)",
    )
    args = p.parse_args(argv)
    if args.out is None:
        args.out = Path(f"runs/scenes/cv-{args.recipe}")
    extra = args.extra if args.extra.exists() else None
    prepare(args.data, extra, args.cache)  # build the cache once, before the workers read it
    jobs = [
        (args.cache, args.data, extra, fold, layer, args.out, args.epochs, args.recipe)
        for layer in args.layers
        for fold in range(1, 6)
    ]
    if args.no_train:
        done = [args.out / f"{j[4]}-fold{j[3]}" / "result.json" for j in jobs]
        results = [json.loads(p.read_text()) for p in done if p.exists()]
        missing = [f"{j[4]}-fold{j[3]}" for j, p in zip(jobs, done, strict=True) if not p.exists()]
        if missing:
            print("not trained (left out of the table): " + ", ".join(missing))
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_run, jobs))
    torch.set_num_threads(1)
    rows = []
    for layer in args.layers:
        folds = sorted((r for r in results if r["first_layer"] == layer), key=lambda r: r["fold"])
        if not folds:
            continue
        last = folds[-1]["fold"]
        ck = torch.load(args.out / f"{layer}-fold{last}" / "model.pt", weights_only=False)
        net = from_checkpoint(ck)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{layer}.onnx"
            export_onnx(net, path, metadata(net, layer, ck["labels"]), CLIP, window_classes=True)
            speed = rtf(Model(ModelSpec(layer, path, None), threads=1), args.repeats)
        rows.append(
            {
                "first_layer": layer,
                "parameters": folds[0]["parameters"],
                "first_layer_parameters": folds[0]["first_layer_parameters"],
                "mean_accuracy": round(statistics.mean(r["accuracy"] for r in folds), 4),
                "folds": [r["fold"] for r in folds],
                "fold_accuracy": [round(r["accuracy"], 4) for r in folds],
                "rtf_one_thread": round(speed, 6),
                "epochs": folds[0]["epochs"],
            }
        )
    print(
        "\nESC-10, official 5-fold cross-validation (ten classes), last epoch of each run, "
        f"recipe {args.recipe!r}"
    )
    print(f"{'first layer':<12}{'params':>9}{'layer 1':>9}{'mean acc':>10}  folds 1-5{'':<27}RTF")
    for r in rows:
        by_fold = dict(zip(r["folds"], r["fold_accuracy"], strict=True))
        folds_txt = " ".join(
            f"{by_fold[k] * 100:5.1f}" if k in by_fold else "    -" for k in range(1, 6)
        )
        print(
            f"{r['first_layer']:<12}{r['parameters']:>9}{r['first_layer_parameters']:>9}"
            f"{r['mean_accuracy'] * 100:>9.1f}%  {folds_txt}   {r['rtf_one_thread']:.5f}"
            + ("" if len(r["folds"]) == 5 else f"  (mean of {len(r['folds'])} folds only)")
        )
    print("reference points: MFCC + random forest 72.7 %, Piczak's CNN 81.0 %, humans 95.7 %")

    shipped: dict[str, Any] = {}
    try:
        model = load_model("scenes", threads=1)
    except GabortagError as err:  # the shipped model is optional for the CV table
        print(f"\nshipped model not measured: {err}")
    else:
        fold5 = measure(model, *esc_fold_files(args.data, 5))  # as the release step does
        heldout = sorted(args.heldout.rglob("*.flac"))
        extra = measure(model, heldout, [p.parent.name for p in heldout]) if heldout else None
        shipped = {
            "esc10_fold5_accuracy": fold5["accuracy"],
            "esc10_fold5_accuracy_within_esc10": fold5["accuracy_within_reference_labels"],
            "extra_heldout_accuracy": extra["accuracy"] if extra else None,
            "rtf_one_thread": round(rtf(model, args.repeats), 6),
        }
        print("\nshipped model 'scenes' (14 classes, trained on folds 1-4 + extra classes)")
        for k, v in shipped.items():
            print(f"  {k}: {v}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "protocol": "ESC-10 official folds; train 4, test 1; last epoch; "
                    "gabortag/training/train_scenes.py",
                    "recipe": args.recipe,
                    "cross_validation": rows,
                    "shipped": shipped,
                    "torch_threads_per_run": 1,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
