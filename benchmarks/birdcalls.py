"""Bird call tagging benchmark: the shipped Bengalese finch model and its ablations.

On the held-out Bengalese finch files (number mod 5 == 4), for each trained variant (the Gabor
layer; a free 2-D convolution of the same kernel size; no first layer): note-type accuracy on
the annotated notes, note error rate of the decoded events, median onset/offset errors, frame
error rate, parameter counts, and the real-time factor on one thread (ONNX, decoded audio in
memory, median of --repeats runs). Each variant is exported and its decoding tuned on its own
validation files exactly as the release step does; the shipped model is measured as bundled.

    python benchmarks/birdcalls.py --runs gabor=runs/bird_gabor conv=runs/bird_conv \\
        none=runs/bird_none --json birdcalls.json

Training the variants (about 25 min each on 2 CPU cores):

    python -m gabortag.training.frames --audio DATA/bengalese_finch \\
        --annotations DATA/bengalese_finch/notes.csv --out runs/bird_conv --first-layer conv
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from gabortag.inference import Model, load_model
from gabortag.io.audio import load_audio
from gabortag.models import ModelSpec
from gabortag.tasks.birdcalls.decode import EventOptions
from gabortag.training.frames import read_table
from gabortag.training.recipes.release_birdcalls import (
    file_truth,
    load_checkpoint,
    measure,
    release,
)

torch.set_num_threads(1)


def rtf(model: Model, audio: list[Any], repeats: int) -> float:
    seconds = sum(len(a) for a in audio) / model.sample_rate
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a in audio:
            model.score(a)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / seconds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--runs", nargs="*", default=[], help="NAME=RUN_DIR (holding best.pt)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    audio_dir = args.data / "bengalese_finch"
    table_path = audio_dir / "notes.csv"
    truth = file_truth(read_table(table_path))
    rows: list[dict[str, Any]] = []

    shipped = load_model("birdcalls", threads=1)
    test_files = shipped.card["training"]["test_files"]
    audio = [load_audio(audio_dir / f, shipped.sample_rate)[0] for f in test_files]
    probs = [shipped.score(a) for a in audio]
    options = EventOptions.from_dict(shipped.info.postprocess)
    rows.append(
        {
            "system": "shipped (birdcalls)",
            "parameters": shipped.card["parameters"],
            **measure(shipped, probs, [truth.get(f, []) for f in test_files], options),
            "rtf": rtf(shipped, audio, args.repeats),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.runs:
            name, run_dir = spec.split("=", 1)
            checkpoint = Path(run_dir) / "best.pt"
            onnx_path = Path(tmp) / f"{name}.onnx"
            card = release(checkpoint, audio_dir, table_path, onnx_path, name)
            net, _ = load_checkpoint(checkpoint)
            model = Model(ModelSpec(name, onnx_path, None), threads=1)
            first = sum(q.numel() for q in net.gabor.parameters())
            rows.append(
                {
                    "system": f"{name} ({net.config.first_layer})",
                    "parameters": card["parameters"],
                    "first_layer_parameters": first,
                    **card["metrics"]["test"],
                    "rtf": rtf(model, audio, args.repeats),
                }
            )
    cols = [
        ("system", 24, "s"),
        ("parameters", 10, "d"),
        ("first_layer_parameters", 8, "s"),
        ("note_type_accuracy", 8, ".4f"),
        ("note_error_rate", 8, ".4f"),
        ("frame_error_rate", 8, ".4f"),
        ("onset_error_ms_median", 8, ".1f"),
        ("offset_error_ms_median", 8, ".1f"),
        ("rtf", 9, ".2e"),
    ]
    heads = [
        "system",
        "params",
        "layer-1",
        "note acc",
        "NER",
        "FER",
        "onset ms",
        "offset ms",
        "RTF",
    ]
    print(
        f"Bengalese finch test files: {len(test_files)}, "
        f"{sum(len(a) for a in audio) / shipped.sample_rate:.0f} s, "
        f"{sum(len(truth.get(f, [])) for f in test_files)} notes"
    )
    print(
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, (_, w, _)) in enumerate(zip(heads, cols, strict=True))
        )
    )
    for r in rows:
        cells = []
        for i, (key, w, f) in enumerate(cols):
            v = r.get(key, "")
            text = format(v, f) if v != "" and f != "s" else str(v)
            cells.append(text.ljust(w) if i == 0 else text.rjust(w))
        print("  ".join(cells))
    print(
        "RTF = processing s / audio s on one thread (decoded audio in memory), median of "
        f"{args.repeats}; NER = edit distance of decoded vs true note sequences / true notes"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
