"""How far the energy rule's speech masks are from real time stamps.

The voice activity recipe labels clips that carry no time stamps with
:func:`gabortag.training.recipes.labels.energy_speech_mask`. This script applies that rule (and
variants of its three constants) to recordings that do carry real speech time stamps, and
prints frame precision, recall, F1 and the median onset / offset error of matched segments
(10 ms frames):

- ``meetings`` (all 14 files, RTTM turns; overlapping talkers, room noise);
- the two speechbrain VAD recordings (annotated segments), from the folder filled by
  ``scripts/fetch_training_data.sh``.

    python scripts/check_vad_labels.py --data ../shared/data --extra DIR [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gabortag.tasks.vad.evaluate import merge_intervals
from gabortag.training.recipes import labels
from gabortag.training.recipes.labels import FRAME, intervals_to_mask, read_rttm
from gabortag.training.recipes.vad_data import load_16k
from gabortag.training.recipes.vad_sources import Roots
from gabortag.training.recipes.vad_suites import speechbrain_vad

VARIANTS = {  # name -> (max gap frames, widen frames, dB below peak)
    "previous rule (gap 250 ms, widen 20 ms, peak-30 dB)": (25, 2, 30.0),
    "gap 80 ms, widen 20 ms, peak-30 dB": (8, 2, 30.0),
    "gap 80 ms, widen 40 ms, peak-30 dB": (8, 4, 30.0),
    "shipped rule (gap 80 ms, widen 20 ms, peak-40 dB)": (8, 2, 40.0),
    "gap 0, widen 0, peak-30 dB": (0, 0, 30.0),
}


def recordings(roots: Roots) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, 16 kHz audio, true 10 ms mask)`` of every recording with real time stamps."""
    out = []
    meet = roots.data / "meetings"
    for split in ("train", "development", "test"):
        turns = read_rttm(meet / f"{split}.rttm")
        for fid in (meet / f"{split}.lst").read_text().split():
            wav = load_16k(meet / f"{fid}.flac")
            n = -(-len(wav) // FRAME)
            out.append(
                (f"meetings/{fid}", wav, intervals_to_mask(merge_intervals(turns.get(fid, [])), n))
            )
    if (roots.git / "speechbrain").is_dir():
        out.extend(speechbrain_vad(roots))
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def boundary_errors(ref: np.ndarray, hyp: np.ndarray) -> tuple[list[int], list[int]]:
    """Onset and offset differences (frames, hyp - ref) of each reference segment and the
    hypothesis segment overlapping it most."""
    on, off = [], []
    hyp_runs = runs(hyp)
    for s, e in runs(ref):
        best = max(hyp_runs, key=lambda h: min(e, h[1]) - max(s, h[0]), default=None)
        if best is not None and min(e, best[1]) > max(s, best[0]):
            on.append(best[0] - s)
            off.append(best[1] - e)
    return on, off


def energy_mask(wav: np.ndarray, gap: int, widen: int, below_peak: float) -> np.ndarray:
    """The energy rule with these constants; all-false where it finds no speech."""
    mask = labels.energy_speech_mask(wav, gap, widen, below_peak)
    return np.zeros(-(-len(wav) // FRAME), bool) if mask is None else mask


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--extra", type=Path, required=True)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    recs = recordings(Roots(args.data, args.extra))
    results = {}
    for name, (gap, widen, below) in VARIANTS.items():
        per_source: dict[str, dict[str, list]] = {}
        for rec, wav, ref in recs:
            hyp = energy_mask(wav, gap, widen, below)[: len(ref)]
            ref = ref[: len(hyp)]
            src = rec.split("/")[0] if "/" in rec else "speechbrain-vad"
            acc = per_source.setdefault(src, {"tp": [], "fp": [], "fn": [], "on": [], "off": []})
            acc["tp"].append(int((hyp & ref).sum()))
            acc["fp"].append(int((hyp & ~ref).sum()))
            acc["fn"].append(int((~hyp & ref).sum()))
            on, off = boundary_errors(ref, hyp)
            acc["on"] += on
            acc["off"] += off
        results[name] = {}
        for src, acc in per_source.items():
            tp, fp, fn = sum(acc["tp"]), sum(acc["fp"]), sum(acc["fn"])
            prec, rec_ = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
            results[name][src] = {
                "precision": round(prec, 3),
                "recall": round(rec_, 3),
                "f1": round(2 * prec * rec_ / max(prec + rec_, 1e-9), 3),
                "median_onset_error_ms": float(np.median(acc["on"]) * 10) if acc["on"] else None,
                "median_offset_error_ms": float(np.median(acc["off"]) * 10) if acc["off"] else None,
            }
    print(
        f"{'rule':55s} {'source':16s} {'P':>6s} {'R':>6s} {'F1':>6s} {'onset':>7s} {'offset':>7s}"
    )
    for name, per in results.items():
        for src, m in per.items():
            print(
                f"{name:55s} {src:16s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} "
                f"{m['median_onset_error_ms']!s:>7s} {m['median_offset_error_ms']!s:>7s}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
