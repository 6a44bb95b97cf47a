"""Export a bird call tagger checkpoint to ONNX, tune its event decoding, measure it, card it.

Used by ``gabortag train birdcalls`` (a user's model, written next to its checkpoint) and, with
``--bundle``, to make the shipped Bengalese finch model:

``python -m gabortag.training.recipes.release_birdcalls --checkpoint runs/bird_gabor/best.pt
--audio ../shared/data/bengalese_finch --annotations ../shared/data/bengalese_finch/notes.csv
--bundle``

Decoding options are tuned on the validation files only (lowest note error rate); the test
files (held out by the split) are measured once, through the exported ONNX file, with
:mod:`gabortag.tasks.birdcalls.evaluate` — the same code ``benchmarks/birdcalls.py`` runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...inference import Model
from ...io.audio import load_audio
from ...models import ModelSpec
from ...tasks.birdcalls.decode import EventOptions, decode_events
from ...tasks.birdcalls.evaluate import Span, evaluate_events
from ..export import export_onnx, gabor_parameters, json_meta, release_facts, write_json
from ..frames import read_table
from ..nets.framenet import VadNet, from_checkpoint


def load_checkpoint(path: Path) -> tuple[VadNet, dict[str, Any]]:
    ck = torch.load(path, weights_only=False)
    return from_checkpoint(ck), ck


def metadata(
    net: VadNet, name: str, labels: list[str], options: EventOptions | None
) -> dict[str, str]:
    """The ONNX metadata of a bird call tagger (keys in :data:`gabortag.models.METADATA_KEYS`,
    plus ``gabortag.freq_range``); ``options`` ``None`` stores no decision defaults."""
    c = net.config
    meta = {
        "gabortag.task": "birdcalls",
        "gabortag.name": name,
        "gabortag.version": "1",
        "gabortag.sample_rate": str(c.sample_rate),
        "gabortag.hop": str(net.hop),
        "gabortag.receptive_field": str(net.receptive_field),
        "gabortag.left_pad": str(net.left_pad),
        "gabortag.labels": json_meta(labels),
        "gabortag.freq_range": json_meta([c.f_min, c.f_max]),
        "gabortag.config": json_meta(c.to_dict()),
    }
    if c.first_layer == "gabor":
        meta["gabortag.gabor"] = json_meta(gabor_parameters(net.gabor))
    if options is not None:
        meta["gabortag.postprocess"] = json_meta(options.to_dict())
    return meta


def file_truth(table: list[tuple[str, float, float, str]]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for file, on, off, label in table:
        out.setdefault(file, []).append((on, off, label))
    return out


def score_files(model: Model, audio_dir: Path, files: list[str]) -> list[np.ndarray]:
    return [model.score(load_audio(audio_dir / f, model.sample_rate)[0]) for f in files]


def decode(probs: np.ndarray, model: Model, options: EventOptions) -> list[Span]:
    duration = len(probs) * model.hop_seconds
    events = decode_events(probs, model.hop_seconds, duration, list(model.info.labels), options)
    return [(e[0], e[1], e[2]) for e in events]


def measure(
    model: Model, probs: list[np.ndarray], truth: list[list[Span]], options: EventOptions
) -> dict[str, float | int]:
    files = [(p, t, decode(p, model, options)) for p, t in zip(probs, truth, strict=True)]
    return evaluate_events(files, list(model.info.labels), model.hop_seconds).to_dict()


def tune(model: Model, probs: list[np.ndarray], truth: list[list[Span]]) -> EventOptions:
    """Grid search on validation files: lowest note error rate, then lowest frame-free ties."""
    best: tuple[float, EventOptions] = (float("inf"), EventOptions())
    for conf, dur, gap in itertools.product(
        (0.3, 0.4, 0.5, 0.6), (0.01, 0.02, 0.03, 0.05), (0.0, 0.01, 0.02)
    ):
        opts = EventOptions(min_confidence=conf, min_duration=dur, min_gap=gap)
        ner = float(measure(model, probs, truth, opts)["note_error_rate"])
        if ner < best[0] - 1e-9:
            best = (ner, opts)
    return best[1]


def release(
    checkpoint: Path,
    audio_dir: Path,
    annotations: Path,
    onnx_path: Path,
    name: str,
    extra_card: dict[str, Any] | None = None,
    annot_format: str | None = None,
) -> dict[str, Any]:
    """Export, tune on validation, measure on test (if the split held files out), write the card
    beside the ONNX file (``<stem>.card.json``) and return it."""
    net, ck = load_checkpoint(checkpoint)
    labels = ["background", *ck["classes"]]
    example = net.receptive_field + 300 * net.hop
    export_onnx(net, onnx_path, metadata(net, name, labels, None), example)
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    truth = file_truth(read_table(annotations, audio_dir, annot_format))
    val_files, test_files = ck["validation_files"], ck["test_files"]
    val_probs = score_files(model, audio_dir, val_files)
    options = tune(model, val_probs, [truth.get(f, []) for f in val_files])
    worst = export_onnx(net, onnx_path, metadata(net, name, labels, options), example)
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    metrics: dict[str, Any] = {
        "validation": measure(
            model,
            score_files(model, audio_dir, val_files),
            [truth.get(f, []) for f in val_files],
            options,
        ),
    }
    if test_files:
        metrics["test"] = measure(
            model,
            score_files(model, audio_dir, test_files),
            [truth.get(f, []) for f in test_files],
            options,
        )
    n_params = sum(p.numel() for p in net.parameters())
    card: dict[str, Any] = {
        "name": name,
        "file": onnx_path.name,
        "task": "birdcalls",
        "version": "1",
        "sample_rate": net.config.sample_rate,
        "hop_seconds": net.hop / net.config.sample_rate,
        "frequency_range_hz": [net.config.f_min, net.config.f_max],
        "labels": labels,
        "parameters": n_params,
        "first_layer": net.config.first_layer,
        "architecture": net.config.to_dict(),
        "postprocess": options.to_dict(),
        "postprocess_tuned_on": "validation files (lowest note error rate)",
        "metrics": {"protocol": "gabortag/event_metrics.py; split by file", **metrics},
        "training": {
            "epochs": ck.get("epoch"),
            "validation_frame_error_during_training": ck.get("val_frame_error"),
            "train_files": len(ck["train_files"]),
            "validation_files": val_files,
            "test_files": test_files,
            "annotations": str(annotations),
        },
        **release_facts(onnx_path, worst),
        **(extra_card or {}),
    }
    if "test" in metrics:
        card["headline"] = {
            "test note accuracy": metrics["test"]["note_type_accuracy"],
            "test note error rate": metrics["test"]["note_error_rate"],
        }
    card_path = onnx_path.with_name(onnx_path.name.removesuffix(".onnx") + ".card.json")
    write_json(card_path, card)
    return card


FINCH = "birdcalls-bengalese-finch"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--audio", type=Path, required=True)
    p.add_argument("--annotations", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None, help="ONNX path (default: beside checkpoint)")
    p.add_argument("--bundle", action="store_true", help="write models/ + manifest (shipped model)")
    args = p.parse_args(argv)
    if args.bundle:
        models = Path("models")
        onnx_path = models / f"{FINCH}.onnx"
        extra = {
            "description": "Bengalese finch note types (Koumura & Okanoya Bird0, 9 types): "
            "log-mel 64 bands 500-12000 Hz at 32 kHz -> 32 learnable Gabor kernels "
            "(9 mel bins x 150 ms) -> dilated TCN -> background/type probabilities every 10 ms. "
            "A demonstration of the pipeline for one bird; train your own with "
            "`gabortag train birdcalls`.",
            "training_data": {
                "source": "../shared/data/bengalese_finch",
                "licence": "CC BY 4.0",
                "split": "files whose number mod 5 == 4 are test",
            },
            "checkpoint": f"{FINCH}.pt",
        }
        card = release(args.checkpoint, args.audio, args.annotations, onnx_path, "birdcalls", extra)
        _, ck = load_checkpoint(args.checkpoint)
        torch.save(
            {
                k: ck[k]
                for k in (
                    "model",
                    "config",
                    "classes",
                    "train_files",
                    "validation_files",
                    "test_files",
                    "epoch",
                )
            },
            models / f"{FINCH}.pt",
        )
        manifest_path = models / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        entry = {
            "name": "birdcalls",
            "aliases": [FINCH],
            "file": onnx_path.name,
            "card": f"{FINCH}.card.json",
            "sha256": card["sha256"],
            "size_bytes": card["size_bytes"],
            "task": "birdcalls",
            "labels": card["labels"],
            "sample_rate": card["sample_rate"],
        }
        manifest["models"] = [m for m in manifest["models"] if m["name"] != "birdcalls"] + [entry]
        write_json(manifest_path, manifest)
    else:
        onnx_path = args.out or args.checkpoint.with_suffix(".onnx")
        card = release(args.checkpoint, args.audio, args.annotations, onnx_path, onnx_path.stem)
    print(json.dumps(card["metrics"], indent=1))


if __name__ == "__main__":
    main()
