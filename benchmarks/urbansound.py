"""UrbanSound8K benchmark of the ``urban`` recipe: leave-one-fold-out over the complete folds
and the first-layer ablations.

Four of UrbanSound8K's ten folds are reachable (1, 2 and 10 complete, 387 of fold 3's 925
clips). For each complete fold ``k`` and each first layer (the Gabor layer; a free 2-D
convolution of the same kernel size and output channels; none, the log-mel straight into the
same back end) a network is trained by the ``benchmark`` recipe of
:mod:`gabortag.training.recipes.train_urban` on the other three folds (and the four extra
classes' clips) and tested on fold ``k`` after its last epoch; a test clip's label is the
highest-scoring of the ten UrbanSound8K labels. Prints per-fold and mean accuracy,
parameter counts and the real-time factor of the exported ONNX on one thread (4 s windows,
batches of 6, median of --repeats); then the bundled ``urban`` model on fold 10, measured on
its ONNX file with :mod:`gabortag.tasks.scenes.evaluate` as ``gabortag eval scenes`` does.

    python benchmarks/urbansound.py --urban extdata/git/urbansound8k/UrbanSound8K/audio \\
        --data ../shared/data --extra extdata/x --jobs 2 --json benchmarks/results/urbansound.json

Runs are resumable: a run whose ``<out>/<layer>-fold<k>/result.json`` exists is not trained
again.
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
from gabortag.training.export import export_onnx
from gabortag.training.nets.scenenet import from_checkpoint
from gabortag.training.recipes.release_scenes import measure
from gabortag.training.recipes.release_urban import fold_files, metadata
from gabortag.training.recipes.train_urban import fold_result, prepare
from gabortag.training.recipes.urban_data import CLIP, COMPLETE_FOLDS, TEST_FOLD

LAYERS = ("gabor", "conv", "none")
REFERENCES = (
    "published UrbanSound8K 10-fold cross-validation accuracy (all ten folds, not four): "
    "Piczak's CNN ~73 %, Salamon & Bello's SB-CNN 73 % (79 % with augmentation)"
)


def _run(job: tuple[Path, Path, Path, Path | None, int, str, Path, int]) -> dict[str, Any]:
    cache, urban, data_dir, extra, fold, layer, out, epochs = job
    torch.set_num_threads(1)
    data = prepare(urban, data_dir, extra, cache)
    return fold_result(data, fold, layer, out / f"{layer}-fold{fold}", epochs, say=lambda _m: None)


def rtf(model: Model, repeats: int, seconds: float = 60.0) -> float:
    """Median seconds of computation per second of audio, 4 s windows in batches of 6."""
    rng = np.random.default_rng(0)
    n = int(seconds * 16000 / CLIP)
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
    p.add_argument("--urban", type=Path, required=True, help="UrbanSound8K audio/ (fold*/ inside)")
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--extra", type=Path, default=Path("extdata/x"))
    p.add_argument("--cache", type=Path, default=Path("runs/urban/clips.npz"))
    p.add_argument("--out", type=Path, default=Path("runs/urban/lofo"))
    p.add_argument("--layers", nargs="*", default=list(LAYERS), choices=LAYERS)
    p.add_argument("--folds", nargs="*", type=int, default=list(COMPLETE_FOLDS))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--no-train",
        action="store_true",
        help="report the runs already trained, train nothing (missing runs are listed)",
    )
    args = p.parse_args(argv)
    extra = args.extra if args.extra.exists() else None
    prepare(args.urban, args.data, extra, args.cache)  # the cache once, before the workers
    jobs = [
        (args.cache, args.urban, args.data, extra, fold, layer, args.out, args.epochs)
        for fold in args.folds
        for layer in args.layers
    ]
    if args.no_train:
        done = [args.out / f"{j[5]}-fold{j[4]}" / "result.json" for j in jobs]
        results = [json.loads(q.read_text()) for q in done if q.exists()]
        missing = [f"{j[5]}-fold{j[4]}" for j, q in zip(jobs, done, strict=True) if not q.exists()]
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
            export_onnx(net, path, metadata(net, layer), CLIP, window_classes=True)
            speed = rtf(Model(ModelSpec(layer, path, None), threads=1), args.repeats)
        rows.append(
            {
                "first_layer": layer,
                "parameters": folds[0]["parameters"],
                "first_layer_parameters": folds[0]["first_layer_parameters"],
                "mean_accuracy": round(statistics.mean(r["accuracy"] for r in folds), 4),
                "folds": [r["fold"] for r in folds],
                "fold_accuracy": [round(r["accuracy"], 4) for r in folds],
                "fold_clips": [r["clips"] for r in folds],
                "rtf_one_thread": round(speed, 6),
                "epochs": folds[0]["epochs"],
                "train_seconds_one_thread": [r["seconds"] for r in folds],
            }
        )
    print(
        "\nUrbanSound8K, leave-one-fold-out over the complete folds "
        f"{', '.join(map(str, args.folds))} (trained on the other reachable folds), "
        "ten labels, last epoch"
    )
    header = "  ".join(f"fold {k:<3}" for k in args.folds)
    print(f"{'first layer':<12}{'params':>9}{'layer 1':>9}{'mean acc':>10}  {header}  RTF")
    for r in rows:
        by_fold = dict(zip(r["folds"], r["fold_accuracy"], strict=True))
        cells = "  ".join(
            f"{by_fold[k] * 100:7.1f}%" if k in by_fold else "       -" for k in args.folds
        )
        print(
            f"{r['first_layer']:<12}{r['parameters']:>9}{r['first_layer_parameters']:>9}"
            f"{r['mean_accuracy'] * 100:>9.1f}%  {cells}  {r['rtf_one_thread']:.5f}"
        )
    print(REFERENCES)

    shipped: dict[str, Any] = {}
    try:
        model = load_model("urban", threads=1)
    except GabortagError as err:  # the bundled model is optional for the table
        print(f"\nbundled model not measured: {err}")
    else:
        report = measure(model, *fold_files(args.urban, TEST_FOLD))
        shipped = {
            f"fold{TEST_FOLD}_accuracy_within_urban_labels": report[
                "accuracy_within_reference_labels"
            ],
            f"fold{TEST_FOLD}_accuracy_all_labels": report["accuracy"],
            f"fold{TEST_FOLD}_macro_f1": report["macro_f1"],
            "rtf_one_thread": round(rtf(model, args.repeats), 6),
        }
        print(f"\nbundled model 'urban' (trained on folds 1, 2, 3), fold {TEST_FOLD}:")
        for k, v in shipped.items():
            print(f"  {k}: {v}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "protocol": "UrbanSound8K folds 1, 2, 10 (complete) and 3 (387 of 925 clips); "
            "leave one complete fold out, train on the rest; last epoch; "
            "gabortag/training/recipes/train_urban.py, recipe 'benchmark'",
            "references": REFERENCES,
            "cross_validation": rows,
            "bundled": shipped,
            "torch_threads_per_run": 1,
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
