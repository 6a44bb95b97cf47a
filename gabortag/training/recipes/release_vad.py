"""Turn a trained checkpoint into the shipped model: ONNX + metadata + card + manifest entry.

``python -m gabortag.training.release_vad --checkpoint runs/vad/best.pt --data ../shared/data``

1. exports the network (verified against torch) to ``models/<name>.onnx``;
2. tunes the post-processing (onset/offset, minimum durations, padding) on meetings
   *development* only, maximising frame F1;
3. measures ROC-AUC, F1 and detection error rate on development and test with
   :mod:`gabortag.evaluation` through the exported ONNX file (the same code
   ``benchmarks/vad.py`` runs);
4. writes the model card and the manifest entry with the file's sha256.
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
from ...tasks.vad.decode import VadOptions, segments_from_scores
from ...tasks.vad.evaluate import Reference, evaluate, meetings_split
from ..export import export_onnx, gabor_parameters, json_meta, release_facts, write_json
from ..nets.framenet import VadNet, from_checkpoint

NAME = "vad-gabor-16k"
TRAINING_DATA = [
    {
        "source": "../shared/data/speech_commands (all words)",
        "role": "speech",
        "licence": "CC BY 4.0",
    },
    {
        "source": "../shared/data/speech_commands/_silence_",
        "role": "non-speech",
        "licence": "CC BY 4.0",
    },
    {"source": "../shared/data/fsdd", "role": "speech", "licence": "CC BY-SA 4.0"},
    {"source": "../shared/data/grid", "role": "speech", "licence": "CC BY 4.0"},
    {
        "source": "../shared/data/meetings train (trn00-09, RTTM labels)",
        "role": "speech + labels",
        "licence": "research-only (public test fixture)",
    },
    {"source": "../shared/data/esc10", "role": "non-speech", "licence": "CC BY (ESC-50)"},
    {"source": "../shared/data/bengalese_finch", "role": "non-speech", "licence": "CC BY 4.0"},
    {"source": "Debian klettres-data", "role": "speech (20 languages)", "licence": "GPL-2+"},
    {
        "source": "Debian asterisk-core-sounds-{en,es,fr,it,ru}-wav",
        "role": "speech",
        "licence": "CC BY-SA 3.0",
    },
    {"source": "Debian wesnoth-1.16-music", "role": "non-speech (music)", "licence": "GPL-2+"},
    {
        "source": "Debian asterisk-moh-opsound-wav",
        "role": "non-speech (music)",
        "licence": "CC BY-SA 3.0",
    },
]
DEBIAN_PACKAGES = [
    "klettres-data",
    "asterisk-core-sounds-en-wav",
    "asterisk-core-sounds-es-wav",
    "asterisk-core-sounds-fr-wav",
    "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-ru-wav",
    "wesnoth-1.16-music",
    "asterisk-moh-opsound-wav",
]


def debian_versions(deb_dir: Path | None) -> dict[str, str]:
    """Package → version from the downloaded ``.deb`` file names (``name_version_arch.deb``)."""
    out: dict[str, str] = {}
    if deb_dir is None:
        return out
    for deb in sorted(deb_dir.glob("*.deb")):
        name, version = deb.name.split("_")[:2]
        out[name] = version.replace("%3a", ":")
    return out


def _auc_by_step(log: Path) -> dict[int, float] | None:
    """Development ROC-AUC at each evaluation of the training run, from its log."""
    if not log.exists():
        return None
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return {int(r["step"]): round(float(r["auc"]), 4) for r in records}


def vad_metadata(
    net: VadNet, name: str = "vad", postprocess: VadOptions | None = None
) -> dict[str, str]:
    """The ONNX metadata of a voice activity network (keys in
    :data:`gabortag.models.METADATA_KEYS`); ``postprocess`` ``None`` stores no decision
    defaults (the runtime then uses :class:`~gabortag.postprocess.VadOptions`' own)."""
    meta = {
        "gabortag.task": "vad",
        "gabortag.name": name,
        "gabortag.version": "1",
        "gabortag.sample_rate": str(net.config.sample_rate),
        "gabortag.hop": str(net.hop),
        "gabortag.receptive_field": str(net.receptive_field),
        "gabortag.left_pad": str(net.left_pad),
        "gabortag.labels": json_meta(["speech"]),
        "gabortag.config": json_meta(net.config.to_dict()),
        "gabortag.gabor": json_meta(gabor_parameters(net.gabor)),
    }
    if postprocess is not None:
        meta["gabortag.postprocess"] = json_meta(postprocess.to_dict())
    return meta


def tune(probs: list[np.ndarray], refs: list[Any], hop_s: float) -> tuple[VadOptions, float]:
    """Grid search of the decision options on development (frame F1 of the segments)."""
    best: tuple[float, VadOptions] = (-1.0, VadOptions())
    for onset, gap, min_speech, min_silence, pad in itertools.product(
        (0.3, 0.4, 0.5, 0.6, 0.7),
        (0.0, 0.1, 0.2),
        (0.0, 0.1, 0.25),
        (0.1, 0.25, 0.5),
        (0.0, 0.05, 0.1),
    ):
        opts = VadOptions(
            onset=onset,
            offset=max(0.05, onset - gap),
            min_speech=min_speech,
            min_silence=min_silence,
            pad=pad,
        )
        segs = [
            segments_from_scores(p, hop_s, len(r.labels) * 0.01, opts)
            for p, r in zip(probs, refs, strict=True)
        ]
        f1 = evaluate(refs, probs, hop_s, segs).f1
        if f1 > best[0] + 1e-9:
            best = (f1, opts)
    return best[1], best[0]


def split_metrics(model: Model, data: Path, split: str, opts: VadOptions) -> dict[str, float]:
    return measure(model, meetings_split(data, split), opts)


def measure(model: Model, refs: list[Reference], opts: VadOptions) -> dict[str, float]:
    """Metrics of :mod:`gabortag.evaluation` of ``model`` (decisions ``opts``) on ``refs``."""
    probs = [model.score(load_audio(r.audio, model.sample_rate)[0]) for r in refs]
    segs = [
        segments_from_scores(p, model.hop_seconds, len(r.labels) * 0.01, opts)
        for p, r in zip(probs, refs, strict=True)
    ]
    return evaluate(refs, probs, model.hop_seconds, segs).to_dict()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--debs", type=Path, default=None, help="folder of the downloaded .deb files")
    p.add_argument("--run-dir", type=Path, default=None, help="training run (log, pool counts)")
    args = p.parse_args(argv)

    ck = torch.load(args.checkpoint, weights_only=False)
    net = from_checkpoint(ck)
    onnx_path = args.models / f"{NAME}.onnx"
    # 1-2: export without post-processing defaults, tune them on development
    export_onnx(net, onnx_path, vad_metadata(net), net.receptive_field + 300 * net.hop)
    model = Model(ModelSpec("vad", onnx_path, None), threads=1)
    dev_refs = meetings_split(args.data, "development")
    dev_probs = [model.score(load_audio(r.audio, model.sample_rate)[0]) for r in dev_refs]
    opts, dev_f1 = tune(dev_probs, dev_refs, model.hop_seconds)
    print(f"tuned on development: {opts} (F1 {dev_f1:.4f})", flush=True)
    # 3: final export with the tuned defaults, then measure through the shipped file
    worst = export_onnx(
        net, onnx_path, vad_metadata(net, postprocess=opts), net.receptive_field + 300 * net.hop
    )
    model = Model(ModelSpec("vad", onnx_path, None), threads=1)
    metrics = {
        split: split_metrics(model, args.data, split, opts) for split in ("development", "test")
    }
    print(json.dumps(metrics, indent=1), flush=True)
    n_params = sum(p.numel() for p in net.parameters())
    run_dir = args.run_dir or args.checkpoint.parent
    counts_path = run_dir / "pool_counts.json"
    card: dict[str, Any] = {
        "name": "vad",
        "file": onnx_path.name,
        "task": "vad",
        "version": "1",
        "description": "Voice activity detection: log-mel (40 bands, 25 ms / 10 ms) -> "
        "32 learnable "
        "Gabor kernels (9 mel bins x 31 frames, real+imag) -> 4-block dilated TCN -> speech "
        "probability every 20 ms.",
        "sample_rate": net.config.sample_rate,
        "hop_seconds": net.hop / net.config.sample_rate,
        "labels": ["speech"],
        "parameters": n_params,
        "gabor_parameters": 4 * net.config.n_kernels,
        "architecture": net.config.to_dict(),
        "receptive_field_seconds": net.receptive_field / net.config.sample_rate,
        "postprocess": opts.to_dict(),
        "postprocess_tuned_on": "meetings development (frame F1)",
        "metrics": {
            "protocol": "10 ms frames inside the .uem; reference = union of RTTM turns; AUC from "
            "frame probabilities, F1/DER from the post-processed segments",
            **metrics,
        },
        "headline": {
            "test AUC": metrics["test"]["roc_auc"],
            "test F1": metrics["test"]["f1"],
            "test DER": metrics["test"]["detection_error_rate"],
        },
        "training": {
            "recipe": "python -m gabortag.training.train_vad --data ../shared/data --extra "
            "EXTRACTED_DEBS --out runs/vad (seed 0), then this release script on best.pt",
            "step": ck.get("step"),
            "selected_by": "ROC-AUC on meetings development",
            "development_during_training": ck.get("dev"),
            "development_auc_by_step": _auc_by_step(run_dir / "log.jsonl"),
            "data": TRAINING_DATA,
            "clip_counts": json.loads(counts_path.read_text()) if counts_path.exists() else None,
            "debian_packages": debian_versions(args.debs),
            "labels": "speech extent of untrimmed clips from their energy (see "
            "gabortag/training/labels.py); meetings from RTTM; mixtures labelled exactly by "
            "construction (gabortag/training/vad_data.py)",
        },
        **release_facts(onnx_path, worst),
        "licence": "model weights: MIT; see training data licences",
    }
    torch.save(
        {"model": net.state_dict(), "config": net.config.to_dict(), "step": ck.get("step")},
        args.models / f"{NAME}.pt",
    )
    card["checkpoint"] = f"{NAME}.pt"
    card_path = args.models / f"{NAME}.card.json"
    write_json(card_path, card)
    manifest_path = args.models / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": []}
    entry = {
        "name": "vad",
        "aliases": [NAME],
        "file": onnx_path.name,
        "card": card_path.name,
        "sha256": card["sha256"],
        "size_bytes": card["size_bytes"],
        "task": "vad",
        "labels": ["speech"],
        "sample_rate": net.config.sample_rate,
    }
    manifest["models"] = [m for m in manifest["models"] if m["name"] != "vad"] + [entry]
    write_json(manifest_path, manifest)
    print(f"wrote {onnx_path} ({card['size_bytes']} bytes, sha256 {card['sha256'][:12]})")


if __name__ == "__main__":
    main()
