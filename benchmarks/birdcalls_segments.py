"""Segments of birds nobody labelled: ``gabortag birdcalls --segments-only`` against an
energy-threshold segmenter of the kind evsonganaly uses, on Bengalese finches that no
training used.

For each bird: note-level precision, recall and F1 of the segments, a segment matching a
note when its onset AND its offset are both within 20 ms of the note's (one to one,
:func:`gabortag.tasks.birdcalls.evaluate.segment_matches`), and the median onset / offset
errors (ms) of each note against the segment overlapping it most
(:func:`~gabortag.tasks.birdcalls.evaluate.boundary_errors`, as in the model card), pooled
over the bird's songs.

Systems:

- ``gabortag --segments-only``: the bundled ``birdcalls`` model (trained on one Bengalese
  finch, Bird0 of ``../shared/data/bengalese_finch``), decoded with ``segments_only`` and
  the model's decoding defaults, exactly as the command writes them (frequency bands aside);
- ``gabortag --segments-only, tuned on Bird0``: the same, with ``min_confidence``,
  ``min_duration`` and ``min_gap`` chosen on Bird0's non-test songs for segmentation F1;
- ``energy (evsonganaly-like)``: band-pass 500-10,000 Hz, squared, smoothed by a 2 ms boxcar
  (evsonganaly's ``sm_win``), sampled every 1 ms, in dB; a note is a run above a threshold of
  T dB over the song's noise floor (its 20th percentile, so that the rule does not depend on
  the recording's gain), gaps shorter than ``min_int`` are closed, then notes shorter than
  ``min_dur`` dropped. Its three parameters (T, min_dur, min_int) are tuned by grid search
  for F1 on Bird0's non-test songs only, never on the birds it is scored on.

Birds scored: the evTAF folders given by ``--cbins NAME=DIR`` (``.cbin`` + ``.rec`` +
``.cbin.not.mat``, searched recursively; gy6or6 and bl26lb16 of vocalpy's
hybrid-vocal-classifier test data), and Bird0's own test songs (number mod 5 == 4) as the
reference point where the model was trained::

    python benchmarks/birdcalls_segments.py --bird0 ../shared/data/bengalese_finch \\
        --cbins gy6or6=DIR/cbins/gy6or6 bl26lb16=DIR/cbins/bl26lb16 \\
        --json benchmarks/results/birdcalls_segments.json

Needs scipy (``pip install ".[bench]"``) for the band-pass filter and ``.not.mat`` files.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gabortag.inference import Model, load_model
from gabortag.io.audio import load_audio
from gabortag.tasks.birdcalls.api import default_options
from gabortag.tasks.birdcalls.decode import EventOptions, decode_events
from gabortag.tasks.birdcalls.evaluate import (
    SEGMENT_TOLERANCE_S,
    Span,
    boundary_errors,
    segment_matches,
)
from gabortag.training.frames import read_table

# --------------------------------------------------------------------------- evTAF files
# A small reader of its own until gabortag.io reads .cbin; it only feeds `Song` below, so the
# benchmark switches by replacing `read_cbin_folder`.


def cbin_rate(rec: Path) -> int:
    """Sample rate of an evTAF recording from its ``.rec`` text (``ADFREQ = 3.2E+4`` or
    ``ADFREQ =   32000``)."""
    found = re.search(r"ADFREQ\s*=\s*([0-9.eE+-]+)", rec.read_text(errors="replace"))
    if found is None:
        raise ValueError(f"{rec}: no ADFREQ line")
    return round(float(found.group(1)))


def cbin_channels(rec: Path) -> int:
    """Channel count of an evTAF recording (``Chans = 2``), 1 when the ``.rec`` has none."""
    found = re.search(r"Chans\s*=\s*(\d+)", rec.read_text(errors="replace"))
    return int(found.group(1)) if found else 1


def read_cbin(path: Path) -> tuple[np.ndarray, int]:
    """Channel 0 of a ``.cbin`` (raw int16 big-endian, channels interleaved) as float32 in
    [-1, 1), and its rate from the ``.rec`` beside it."""
    rec = path.with_suffix(".rec")
    raw = np.fromfile(path, dtype=">i2")
    channels = cbin_channels(rec)
    raw = raw[: len(raw) - len(raw) % channels].reshape(-1, channels)[:, 0]
    return raw.astype(np.float32) / 32768.0, cbin_rate(rec)


def read_notmat(path: Path) -> list[Span]:
    """Notes of an evsonganaly ``.not.mat``: (onset s, offset s, label); onsets and offsets
    are stored in ms, labels as one string (one character per note)."""
    from scipy.io import loadmat

    mat = loadmat(str(path), squeeze_me=True)
    onsets = np.atleast_1d(mat["onsets"]).astype(float) / 1000
    offsets = np.atleast_1d(mat["offsets"]).astype(float) / 1000
    labels = str(mat["labels"])
    return [(float(a), float(b), c) for a, b, c in zip(onsets, offsets, labels, strict=True)]


@dataclass
class Song:
    """One annotated song: mono audio at ``rate`` and its notes."""

    name: str
    audio: np.ndarray
    rate: int
    notes: list[Span]


def read_cbin_folder(folder: Path) -> list[Song]:
    """Every ``.cbin`` under ``folder`` that has its ``.rec`` and ``.cbin.not.mat``, by name."""
    songs = []
    for cbin in sorted(folder.rglob("*.cbin")):
        notmat = cbin.with_name(cbin.name + ".not.mat")
        if notmat.exists() and cbin.with_suffix(".rec").exists():
            audio, rate = read_cbin(cbin)
            songs.append(Song(cbin.name, audio, rate, read_notmat(notmat)))
    return songs


BIRD0_RATE = 32000


def read_bird0(folder: Path, test: bool) -> list[Song]:
    """Bird0's songs (``notes.csv``): the test ones (number mod 5 == 4) or the others."""
    by_file: dict[str, list[Span]] = {}
    for file, on, off, label in read_table(folder / "notes.csv"):
        by_file.setdefault(file, []).append((on, off, label))
    songs = []
    for file in sorted(by_file, key=lambda f: int(Path(f).stem)):
        if (int(Path(file).stem) % 5 == 4) == test:
            audio, _ = load_audio(folder / file, BIRD0_RATE)
            songs.append(Song(file, audio, BIRD0_RATE, sorted(by_file[file])))
    return songs


# --------------------------------------------------------------------------- energy segmenter

ENVELOPE_STEP_S = 0.001
SMOOTH_S = 0.002
BAND_HZ = (500.0, 10000.0)
FLOOR_PERCENTILE = 20


def envelope_db(audio: np.ndarray, rate: int) -> np.ndarray:
    """evsonganaly's smoothed energy: band-passed, squared, 2 ms boxcar; one value per 1 ms
    (the block mean), in dB relative to the song's 20th percentile (its noise floor)."""
    from scipy.signal import butter, sosfiltfilt

    high = min(BAND_HZ[1], 0.45 * rate)
    sos = butter(4, [BAND_HZ[0], high], btype="bandpass", fs=rate, output="sos")
    power = sosfiltfilt(sos, audio.astype(np.float64)) ** 2
    width = max(1, round(SMOOTH_S * rate))
    smooth = np.convolve(power, np.ones(width) / width, mode="same")
    step = max(1, round(ENVELOPE_STEP_S * rate))
    n = len(smooth) // step
    blocks = smooth[: n * step].reshape(n, step).mean(axis=1)
    db = 10 * np.log10(blocks + 1e-20)
    return db - np.percentile(db, FLOOR_PERCENTILE)


def energy_segments(
    env: np.ndarray, threshold_db: float, min_dur_s: float, min_int_s: float
) -> list[Span]:
    """evsonganaly's SegmentNotes on a 1 ms envelope: runs above ``threshold_db``, gaps
    shorter than ``min_int_s`` closed, then notes shorter than ``min_dur_s`` dropped."""
    above = np.concatenate([[False], env > threshold_db, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    on, off = edges[0::2].astype(float), edges[1::2].astype(float)  # in envelope steps
    if len(on) == 0:
        return []
    gap = (on[1:] - off[:-1]) * ENVELOPE_STEP_S
    keep_start = np.concatenate([[True], gap >= min_int_s - 1e-9])
    keep_end = np.concatenate([gap >= min_int_s - 1e-9, [True]])
    on, off = on[keep_start], off[keep_end]
    long = (off - on) * ENVELOPE_STEP_S >= min_dur_s - 1e-9
    return [
        (a * ENVELOPE_STEP_S, b * ENVELOPE_STEP_S, "vocalisation")
        for a, b in zip(on[long], off[long], strict=True)
    ]


ENERGY_GRID = (
    tuple(float(t) for t in range(3, 37, 3)),  # threshold, dB over the floor
    (0.005, 0.01, 0.015, 0.02, 0.03, 0.04),  # min_dur, s
    (0.002, 0.005, 0.008, 0.012, 0.016, 0.02, 0.03),  # min_int, s
)


# --------------------------------------------------------------------------- scoring


def score(songs: Sequence[Song], segments: Sequence[Sequence[Span]]) -> dict[str, Any]:
    """Pooled note P/R/F1 (onset and offset within 20 ms) and median boundary errors (ms)."""
    true = found = matched = 0
    onsets: list[float] = []
    offsets: list[float] = []
    for song, segs in zip(songs, segments, strict=True):
        truth = sorted(song.notes)
        segs = sorted(segs)
        true += len(truth)
        found += len(segs)
        matched += len(segment_matches(truth, segs, SEGMENT_TOLERANCE_S))
        on, off = boundary_errors(truth, segs)
        onsets += on
        offsets += off
    return {
        "songs": len(songs),
        "minutes": round(sum(len(s.audio) / s.rate for s in songs) / 60, 2),
        "true_notes": true,
        "segments": found,
        "matched": matched,
        "precision": round(matched / found, 4) if found else None,
        "recall": round(matched / true, 4) if true else None,
        "f1": round(2 * matched / (true + found), 4) if true + found else None,
        "onset_error_ms_median": round(float(np.median(onsets)) * 1000, 2) if onsets else None,
        "offset_error_ms_median": round(float(np.median(offsets)) * 1000, 2) if offsets else None,
        "notes_overlapped": len(onsets),
    }


def grid_search(
    songs: Sequence[Song],
    grid: Sequence[Sequence[float]],
    segment: Callable[[int, tuple[float, ...]], list[Span]],
) -> tuple[tuple[float, ...], float]:
    """The grid point with the best pooled F1 on ``songs`` (first in grid order on ties);
    ``segment(song index, point)`` gives a song's segments."""
    best: tuple[tuple[float, ...], float] = ((), -1.0)
    for point in itertools.product(*grid):
        f1 = score(songs, [segment(i, point) for i in range(len(songs))])["f1"] or 0.0
        if f1 > best[1] + 1e-12:
            best = (point, f1)
    return best


# --------------------------------------------------------------------------- the model


def model_probs(model: Model, song: Song) -> np.ndarray:
    """Class probabilities of a song at the model's rate (resampled when needed)."""
    if song.rate == model.sample_rate:
        return model.score(song.audio)
    import soxr

    return model.score(soxr.resample(song.audio, song.rate, model.sample_rate).astype(np.float32))


def model_segments(
    model: Model, probs: np.ndarray, duration: float, options: EventOptions
) -> list[Span]:
    """What ``gabortag birdcalls --segments-only`` decodes (frequency bands aside)."""
    labels = list(model.info.labels)
    return [
        (d.start, d.end, d.label)
        for d in decode_events(
            probs, model.hop_seconds, duration, labels, options, segments_only=True
        )
    ]


SEGMENT_GRID = (
    (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),  # min_confidence
    (0.005, 0.01, 0.02, 0.03),  # min_duration, s
    (0.0, 0.01, 0.02),  # min_gap, s
)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bird0", type=Path, default=Path("../shared/data/bengalese_finch"))
    p.add_argument("--cbins", nargs="+", required=True, metavar="NAME=DIR")
    p.add_argument("--model", default="birdcalls")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    t0 = time.time()
    model = load_model(args.model, threads=1)
    tuning = read_bird0(args.bird0, test=False)
    birds = {"Bird0 (test songs; the model's own bird)": read_bird0(args.bird0, test=True)}
    for spec in args.cbins:
        name, folder = spec.split("=", 1)
        birds[name] = read_cbin_folder(Path(folder))
    print(f"read {len(tuning)} tuning songs and {len(birds)} birds ({time.time() - t0:.0f} s)")

    envelopes = [envelope_db(s.audio, s.rate) for s in tuning]
    (threshold, min_dur, min_int), tuned_f1 = grid_search(
        tuning, ENERGY_GRID, lambda i, q: energy_segments(envelopes[i], *q)
    )
    print(f"energy on Bird0: T {threshold} dB, min_dur {min_dur} s, min_int {min_int} s")
    print(f"energy on Bird0: F1 {tuned_f1}")

    tune_probs = [model_probs(model, s) for s in tuning]
    durations = [len(s.audio) / s.rate for s in tuning]

    def tuned_segments(i: int, q: tuple[float, ...]) -> list[Span]:
        opts = EventOptions(min_confidence=q[0], min_duration=q[1], min_gap=q[2])
        return model_segments(model, tune_probs[i], durations[i], opts)

    (conf, dur, gap), model_f1 = grid_search(tuning, SEGMENT_GRID, tuned_segments)
    tuned_options = EventOptions(min_confidence=conf, min_duration=dur, min_gap=gap)
    defaults = default_options(model)
    print(f"--segments-only on Bird0: {tuned_options.to_dict()}, F1 {model_f1}")

    results: dict[str, dict[str, Any]] = {}
    for bird, songs in birds.items():
        probs = [model_probs(model, s) for s in songs]
        lengths = [len(s.audio) / s.rate for s in songs]
        envs = [envelope_db(s.audio, s.rate) for s in songs]
        results[bird] = {
            "gabortag --segments-only (model defaults)": score(
                songs,
                [
                    model_segments(model, q, d, defaults)
                    for q, d in zip(probs, lengths, strict=True)
                ],
            ),
            "gabortag --segments-only (decoding tuned on Bird0)": score(
                songs,
                [
                    model_segments(model, q, d, tuned_options)
                    for q, d in zip(probs, lengths, strict=True)
                ],
            ),
            "energy, evsonganaly-like (tuned on Bird0)": score(
                songs, [energy_segments(e, threshold, min_dur, min_int) for e in envs]
            ),
        }
    unseen = [b for b in birds if not b.startswith("Bird0")]
    verdict = {
        system: all(
            (results[b][system]["f1"] or 0)
            > (results[b]["energy, evsonganaly-like (tuned on Bird0)"]["f1"] or 0)
            for b in unseen
        )
        for system in next(iter(results.values()))
        if not system.startswith("energy")
    }
    doc = {
        "protocol": "benchmarks/birdcalls_segments.py: note P/R/F1 with onset and offset within "
        f"{SEGMENT_TOLERANCE_S * 1000:g} ms (one to one); median |onset| and |offset| errors of "
        "each note against the segment overlapping it most; pooled over each bird's songs",
        "model": model.name,
        "model_decoding_defaults": defaults.to_dict(),
        "model_decoding_tuned_on_bird0": {**tuned_options.to_dict(), "bird0_f1": model_f1},
        "energy_parameters_tuned_on_bird0": {
            "threshold_db_over_floor": threshold,
            "min_dur_s": min_dur,
            "min_int_s": min_int,
            "smooth_s": SMOOTH_S,
            "band_hz": list(BAND_HZ),
            "floor_percentile": FLOOR_PERCENTILE,
            "bird0_f1": tuned_f1,
        },
        "tuning_songs": f"{len(tuning)} Bird0 songs (number mod 5 != 4)",
        "beats_energy_on_every_unseen_bird": verdict,
        "birds": results,
    }
    print("| bird | system | P | R | F1 | onset / offset error, median (ms) |")
    print("|---|---|---|---|---|---|")
    for bird, systems in results.items():
        for system, r in systems.items():
            print(
                f"| {bird} | {system} | {r['precision']} | {r['recall']} | **{r['f1']}** | "
                f"{r['onset_error_ms_median']} / {r['offset_error_ms_median']} |"
            )
    print(json.dumps(verdict))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
