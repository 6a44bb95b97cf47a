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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...inference import Model
from ...io.audio import load_audio
from ...models import ModelSpec
from ...tasks.birdcalls.decode import EventOptions, decode_events
from ...tasks.birdcalls.evaluate import Span, evaluate_events
from ..export import (
    checkpoint_fields,
    export_onnx,
    gabor_parameters,
    json_meta,
    release_facts,
    write_json,
)
from ..frames import MIN_TUNING_FILES, MIN_TUNING_NOTES, read_table
from ..nets.framenet import VadNet, from_checkpoint


def load_checkpoint(path: Path) -> tuple[VadNet, dict[str, Any]]:
    ck = torch.load(path, weights_only=True)
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


#: The decoding grid :func:`tune` searches: ``min_confidence`` (the call-frame threshold on
#: ``1 - p(background)``), ``min_duration`` and ``min_gap`` (seconds).
TUNE_GRID = (
    (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    (0.01, 0.02, 0.03, 0.05),
    (0.0, 0.01, 0.02),
)


def tune(model: Model, probs: list[np.ndarray], truth: list[list[Span]]) -> EventOptions:
    """Grid search (:data:`TUNE_GRID`) on validation files: lowest note error rate; ties go
    to the first in grid order (lowest threshold, then shortest durations)."""
    best: tuple[float, EventOptions] = (float("inf"), EventOptions())
    for conf, dur, gap in itertools.product(*TUNE_GRID):
        opts = EventOptions(min_confidence=conf, min_duration=dur, min_gap=gap)
        ner = float(measure(model, probs, truth, opts)["note_error_rate"])
        if ner < best[0] - 1e-9:
            best = (ner, opts)
    return best[1]


def tuning_decision(
    val_files: list[str], truth: dict[str, list[Span]], fallback: EventOptions
) -> tuple[bool, str]:
    """Whether to tune the decoding on these validation files, and the card's words for it:
    only with at least :data:`~gabortag.training.frames.MIN_TUNING_FILES` files and
    :data:`~gabortag.training.frames.MIN_TUNING_NOTES` notes; fewer would fit the
    thresholds to a few notes, so ``fallback`` is kept."""
    notes = sum(len(truth.get(f, [])) for f in val_files)
    if len(val_files) >= MIN_TUNING_FILES and notes >= MIN_TUNING_NOTES:
        return True, "validation files (lowest note error rate)"
    return False, (
        f"not tuned: the validation set ({len(val_files)} file{'s' * (len(val_files) != 1)}, "
        f"{notes} notes) is under {MIN_TUNING_FILES} files or {MIN_TUNING_NOTES} notes, so "
        f"the defaults were kept ({json.dumps(fallback.to_dict())})"
    )


def epochs_of(ck: dict[str, Any]) -> dict[str, Any]:
    """The card's ``training`` entries for epochs: ``epochs`` run and ``best_epoch``, the one
    kept (``epochs`` is ``None`` for a checkpoint written before runs recorded it)."""
    return {"epochs": ck.get("epochs_run"), "best_epoch": ck.get("epoch")}


def release(
    checkpoint: Path,
    audio_dir: Path,
    annotations: Path,
    onnx_path: Path,
    name: str,
    extra_card: dict[str, Any] | None = None,
    *,
    fallback: EventOptions | None = None,
    log: Callable[[str], None] | None = None,
    annot_format: str | None = None,
) -> dict[str, Any]:
    """Export, tune on validation, measure on test (if the split held files out), write the card
    beside the ONNX file (``<stem>.card.json``) and return it.

    With a small validation set (:func:`tuning_decision`) the decoding is not tuned:
    ``fallback`` (the decoding of the model fine-tuned from, or the generic defaults) is
    kept, and ``log`` is told."""
    net, ck = load_checkpoint(checkpoint)
    labels = ["background", *ck["classes"]]
    example = net.receptive_field + 300 * net.hop
    export_onnx(net, onnx_path, metadata(net, name, labels, None), example)
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    truth = file_truth(read_table(annotations, audio_dir, annot_format))
    val_files, test_files = ck["validation_files"], ck["test_files"]
    val_probs = score_files(model, audio_dir, val_files)
    keep = fallback or EventOptions()
    tuned, tuned_on = tuning_decision(val_files, truth, keep)
    if tuned:
        options = tune(model, val_probs, [truth.get(f, []) for f in val_files])
    else:
        options = keep
        if log is not None:
            log(f"decoding {tuned_on}")
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
        "postprocess_tuned_on": tuned_on,
        "metrics": {"protocol": "gabortag/event_metrics.py; split by file", **metrics},
        "training": {
            **epochs_of(ck),
            "validation_frame_error_during_training": ck.get("val_frame_error"),
            "train_files": len(ck["train_files"]),
            "labels_left_out": ck.get("ignored_labels", []),
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


def set_postprocess(onnx_path: Path, options: EventOptions) -> None:
    """Rewrite the ``gabortag.postprocess`` metadata of an ONNX file (weights untouched),
    atomically."""
    import onnx

    proto = onnx.load(str(onnx_path))
    kept = [(e.key, e.value) for e in proto.metadata_props if e.key != "gabortag.postprocess"]
    del proto.metadata_props[:]
    for key, value in [*kept, ("gabortag.postprocess", json_meta(options.to_dict()))]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    tmp = onnx_path.with_suffix(".onnx.tmp")
    try:
        onnx.save(proto, str(tmp))
        tmp.replace(onnx_path)
    finally:
        tmp.unlink(missing_ok=True)


def retune(
    onnx_path: Path, audio_dir: Path, annotations: Path, note: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune the decoding of a released model again on the validation files its card names
    (never the test files), store it in the ONNX metadata and the card, and measure the
    validation and test files with it; returns ``(old card, new card)``. Used when the
    decoding rule changes and the network does not."""
    card_path = onnx_path.with_name(onnx_path.name.removesuffix(".onnx") + ".card.json")
    old = json.loads(card_path.read_text())
    name = str(old["name"])
    model = Model(ModelSpec(name, onnx_path, None), threads=1)
    truth = file_truth(read_table(annotations))
    splits = {
        split: (files, score_files(model, audio_dir, files), [truth.get(f, []) for f in files])
        for split, files in (
            ("validation", old["training"]["validation_files"]),
            ("test", old["training"]["test_files"]),
        )
        if files
    }
    _, val_probs, val_truth = splits["validation"]
    options = tune(model, val_probs, val_truth)
    set_postprocess(onnx_path, options)
    card = json.loads(json.dumps(old))
    card["postprocess"] = options.to_dict()
    card["postprocess_tuned_on"] = f"validation files (lowest note error rate); {note}"
    for split, (_, probs, spans) in splits.items():
        card["metrics"][split] = measure(model, probs, spans, options)
    if "test" in splits:
        card["headline"] = {
            "test note accuracy": card["metrics"]["test"]["note_type_accuracy"],
            "test note error rate": card["metrics"]["test"]["note_error_rate"],
        }
    from ...models import sha256_of

    card["sha256"] = sha256_of(onnx_path)
    card["size_bytes"] = onnx_path.stat().st_size
    write_json(card_path, card)
    return old, card


def _update_manifest(models: Path, card: dict[str, Any], onnx_path: Path) -> None:
    """Point the manifest's ``birdcalls`` entry at ``onnx_path`` with the card's hash."""
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
        **checkpoint_fields(models, card),
    }
    manifest_path = models / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["models"] = [entry if m["name"] == "birdcalls" else m for m in manifest["models"]] + (
        [] if any(m["name"] == "birdcalls" for m in manifest["models"]) else [entry]
    )
    write_json(manifest_path, manifest)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--audio", type=Path, required=True)
    p.add_argument("--annotations", type=Path, required=True)
    p.add_argument("--out", type=Path, default=None, help="ONNX path (default: beside checkpoint)")
    p.add_argument("--bundle", action="store_true", help="write models/ + manifest (shipped model)")
    p.add_argument(
        "--retune-decoding",
        metavar="NOTE",
        default=None,
        help="re-tune the shipped model's decoding on its validation files (no training, no "
        "export; NOTE says why, in the card) and update models/",
    )
    args = p.parse_args(argv)
    if args.retune_decoding is not None:
        models = Path("models")
        onnx_path = models / f"{FINCH}.onnx"
        old, card = retune(onnx_path, args.audio, args.annotations, args.retune_decoding)
        _update_manifest(models, card, onnx_path)
        for split in ("validation", "test"):
            print(split, "before", json.dumps(old["metrics"].get(split)))
            print(split, "after ", json.dumps(card["metrics"].get(split)))
        print("postprocess", json.dumps(old["postprocess"]), "->", json.dumps(card["postprocess"]))
        return
    if args.checkpoint is None:
        p.error("--checkpoint is needed (unless --retune-decoding)")
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
            {"task": "birdcalls"}
            | {
                k: ck[k]
                for k in (
                    "model",
                    "config",
                    "classes",
                    "train_files",
                    "validation_files",
                    "test_files",
                    "epoch",
                    "epochs_run",
                )
                if k in ck
            },
            models / f"{FINCH}.pt",
        )
        _update_manifest(models, card, onnx_path)
    else:
        onnx_path = args.out or args.checkpoint.with_suffix(".onnx")
        card = release(args.checkpoint, args.audio, args.annotations, onnx_path, onnx_path.stem)
    print(json.dumps(card["metrics"], indent=1))


if __name__ == "__main__":
    main()
