"""Training recipe for bird call / note type taggers (CPU, resumable).

A frame tagger (the :class:`~.nets.framenet.VadNet` architecture with one output per
class, class 0 = background) learns, every 10 ms, which note type is sounding. Training data
are labelled recordings: an audio folder and an annotation table (file, onset_s, offset_s,
label). Files are split, never notes: the *test* files are set aside by the caller (for the
Bengalese finch corpus, files whose number mod 5 == 4), and every 8th remaining file (sorted
by name) validates; the checkpoint with the lowest validation frame error is kept.

``python -m gabortag.training.frames --audio ../shared/data/bengalese_finch
--annotations ../shared/data/bengalese_finch/notes.csv --out runs/birdcalls``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import OptionError
from ..io.annotations import read_event_annotations
from ..io.audio import load_audio
from .nets.framenet import VadConfig, VadNet
from .optim import load_resumable, optimiser_step, save_resumable

BIRD_CONFIG = VadConfig(
    sample_rate=32000,
    win_length=640,  # 20 ms
    mel_hop=320,  # 10 ms
    n_mels=64,
    f_min=500.0,
    f_max=12000.0,
    n_kernels=32,
    kernel_size=(9, 15),  # 9 mel bins x 150 ms
    gabor_stride=1,
    freq_pool=4,
    channels=64,
    dilations=(1, 2, 4, 8),
    tcn_kernel=5,
)
FRAME_S = 0.01
#: Frame class of a note whose label is outside the label set: left out of the loss and of the
#: validation frame error (neither background nor a type).
IGNORE = -100


@dataclass
class Recording:
    """One annotated file: audio at the model rate and per-frame class indices (0 background)."""

    name: str
    audio: np.ndarray
    labels: np.ndarray  # (ceil(N / hop),) int64


def read_table(
    path: Path, audio_dir: Path | None = None, fmt: str | None = None
) -> list[tuple[str, float, float, str]]:
    """(file, onset_s, offset_s, label) rows of an annotation table, file or folder in any
    format :func:`gabortag.io.annotations.read_event_annotations` reads (``fmt``: its name,
    ``None``: inferred)."""
    return [
        (a.file, a.onset_s, a.offset_s, a.label)
        for a in read_event_annotations(path, audio_dir, fmt=fmt)
    ]


def frame_labels(
    n_samples: int, hop: int, rate: int, notes: Sequence[tuple[float, float, int]]
) -> np.ndarray:
    """Class index per output frame: a frame takes the class of the note holding its centre.

    Notes that touch (gap under 1.5 frames) get one background frame between them, at the
    frame nearest to the boundary: annotators often split a song into contiguous notes, and
    without a background frame two touching notes of the same type could only be decoded as
    one event.
    """
    n = -(-n_samples // hop)
    hop_s = hop / rate
    centres = (np.arange(n) + 0.5) * hop_s
    labels = np.zeros(n, dtype=np.int64)
    ordered = sorted(notes)
    for onset, offset, cls in ordered:
        labels[(centres >= onset) & (centres < offset)] = cls
    for (_, prev_off, _), (next_on, _, _) in itertools.pairwise(ordered):
        if next_on - prev_off < 1.5 * hop_s:
            k = round((prev_off + next_on) / 2 / hop_s - 0.5)
            if 0 <= k < n:
                labels[k] = 0
    return labels


def load_recordings(
    audio_dir: Path,
    table: list[tuple[str, float, float, str]],
    classes: list[str],
    files: list[str],
    net: VadNet,
) -> list[Recording]:
    by_file: dict[str, list[tuple[float, float, int]]] = {f: [] for f in files}
    index = {c: i + 1 for i, c in enumerate(classes)}
    for file, on, off, label in table:
        if file in by_file:
            by_file[file].append((on, off, index.get(label, IGNORE)))
    out = []
    for f in files:
        audio = load_audio(audio_dir / f, net.config.sample_rate)[0]
        out.append(
            Recording(
                f, audio, frame_labels(len(audio), net.hop, net.config.sample_rate, by_file[f])
            )
        )
    return out


def split_files(
    files: list[str],
    test_rule: str,
    *,
    val_files: Sequence[str] | None = None,
    val_fraction: float | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test). ``test_rule``: ``mod5`` (file number mod 5 == 4) or ``none``.

    Validation files, among the files outside the test set (sorted by name): ``val_files``
    (names as in the annotations, or their stems); else, with ``val_fraction`` in (0, 1),
    ``round(fraction · n)`` files (at least 1, at most n − 1) evenly spaced over the sorted
    list; else every 8th file (or the last one when there are fewer than 8).

    Raises:
        ValueError: fewer than 2 files outside the test set; a ``val_files`` entry that is no
            annotated file; every file given to validation; a fraction outside (0, 1).
    """
    files = sorted(files)
    if test_rule == "mod5":
        test = [f for f in files if int(Path(f).stem) % 5 == 4]
    else:
        test = []
    rest = [f for f in files if f not in test]
    if len(rest) < 2:
        raise ValueError(
            f"need at least 2 annotated recordings outside the test set (one validates), "
            f"got {len(rest)}"
        )
    if val_files:
        by_name = {k: f for f in rest for k in (Path(f).stem, Path(f).name, f)}
        found = {
            v: next((by_name[k] for k in (v, Path(v).name, Path(v).stem) if k in by_name), None)
            for v in val_files
        }
        missing = [v for v, f in found.items() if f is None]
        if missing:
            raise OptionError(
                "val_files",
                f"{', '.join(map(repr, missing))} not among the annotated recordings outside "
                f"the test set ({len(rest)} files, e.g. {rest[0]!r})",
            )
        val = [f for f in rest if f in set(found.values())]
    elif val_fraction is not None:
        if not 0.0 < val_fraction < 1.0:
            raise OptionError("val_fraction", f"must be between 0 and 1, got {val_fraction}")
        n_val = min(max(1, round(val_fraction * len(rest))), len(rest) - 1)
        picks = {int(i) for i in np.floor((np.arange(n_val) + 0.5) * len(rest) / n_val)}
        val = [f for i, f in enumerate(rest) if i in picks]
    else:
        val = [f for i, f in enumerate(rest) if i % 8 == 7] or rest[-1:]
    train = [f for f in rest if f not in val]
    if not train:
        raise ValueError("every recording would validate: leave at least one for training")
    return train, val, test


#: Fewer annotated recordings than this (outside the test set) is small data, said so.
SMALL_DATA_FILES = 8
#: The decoding is tuned on the validation recordings only when they are at least this many
#: and hold at least :data:`MIN_TUNING_NOTES` notes; else the model's defaults are kept.
MIN_TUNING_FILES = 3
MIN_TUNING_NOTES = 100

#: A call type with fewer training notes than this gets a warning at the start of training.
MIN_TRAINING_NOTES = 20

#: The bird recipe's fewest optimisation steps per run (epochs are lengthened for small data).
BIRD_MIN_STEPS = 300
#: Epochs without a validation improvement after which a bird run stops.
BIRD_PATIENCE = 10
#: Fraction of the training crops centred on a note of a uniformly drawn type.
BIRD_BALANCE = 0.5
#: Signal-to-noise range (dB) of the white noise added to half of the crops.
BIRD_SNR_DB = (10.0, 40.0)
#: Loss weight of the frames on either side of a label change (annotated boundaries are
#: uncertain by a frame or two).
BOUNDARY_WEIGHT = 0.3


def boundary_weighted_loss(
    logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.05, edge: float = BOUNDARY_WEIGHT
) -> torch.Tensor:
    """Cross-entropy of ``logits`` ``(B, T, C)`` against class indices ``y`` ``(B, T)``, label
    smoothed, with the two frames around every label change weighted ``edge`` instead of 1 and
    :data:`IGNORE` frames weighted 0."""
    ce = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        y.reshape(-1),
        label_smoothing=smoothing,
        reduction="none",
        ignore_index=IGNORE,
    ).reshape(y.shape)
    change = y[:, 1:] != y[:, :-1]
    near = torch.zeros_like(y, dtype=torch.bool)
    near[:, 1:] |= change
    near[:, :-1] |= change
    weight = torch.where(near, edge, 1.0).to(ce.dtype) * (y != IGNORE).to(ce.dtype)
    return (ce * weight).sum() / weight.sum().clamp_min(1.0)


def label_set(
    table: Sequence[tuple[str, float, float, str]], labels: Sequence[str] | None
) -> tuple[list[str], dict[str, int]]:
    """The classes to learn (sorted by length, then text) and the notes per label left out.

    Raises:
        ValueError: ``labels`` is empty or names a label no note has.
    """
    present = {row[3] for row in table}
    if labels is None:
        return sorted(present, key=lambda s: (len(s), s)), {}
    wanted = list(dict.fromkeys(labels))
    if not wanted:
        raise ValueError("labels: the label set is empty")
    unknown = [lab for lab in wanted if lab not in present]
    if unknown:
        raise OptionError(
            "labels",
            f"{', '.join(map(repr, unknown))} not among the annotated labels "
            f"({', '.join(sorted(present, key=lambda s: (len(s), s)))})",
        )
    left_out: dict[str, int] = {}
    for row in table:
        if row[3] not in wanted:
            left_out[row[3]] = left_out.get(row[3], 0) + 1
    return sorted(wanted, key=lambda s: (len(s), s)), dict(sorted(left_out.items()))


#: A validation note error rate above this gets a warning at the end of training.
POOR_NOTE_ERROR_RATE = 0.04


def final_report(
    validation: Mapping[str, Any] | None, train_notes: Mapping[str, int], minimum: int
) -> list[str]:
    """Lines for the end of training: the validation note error rate (how many notes it rests
    on), a warning when it is above :data:`POOR_NOTE_ERROR_RATE` or rests on fewer than
    :data:`MIN_TUNING_NOTES` notes, and again the types with fewer than ``minimum`` training
    notes."""
    lines = []
    if validation:
        ner = float(validation["note_error_rate"])
        n = int(validation["true_notes"])
        lines.append(f"validation note error rate {100 * ner:.2f} % ({n} notes)")
        if ner > POOR_NOTE_ERROR_RATE:
            lines.append(
                f"warning: the validation note error rate is above "
                f"{100 * POOR_NOTE_ERROR_RATE:.0f} %: annotate more songs (a few minutes of "
                "song per bird), check the labels of the types it confuses "
                "(gabortag eval birdcalls), or leave calls and unsure marks out (--labels)"
            )
        if n < MIN_TUNING_NOTES:
            lines.append(
                f"warning: only {n} validation notes: the validation numbers are rough "
                "(--val-files or --val-fraction give validation more songs)"
            )
    rare = [c for c, k in train_notes.items() if k < minimum]
    if rare:
        lines.append(
            f"warning: too few training notes (under {minimum}) to learn "
            + ", ".join(f"{c!r} ({train_notes[c]})" for c in rare)
        )
    return lines


def note_counts(
    table: Sequence[tuple[str, float, float, str]], classes: Sequence[str], files: Sequence[str]
) -> dict[str, int]:
    """Notes of each class in ``files`` (classes in the given order, zeros included)."""
    chosen = set(files)
    counts = dict.fromkeys(classes, 0)
    for file, _, _, label in table:
        if file in chosen and label in counts:
            counts[label] += 1
    return counts


def describe_counts(
    train_counts: Mapping[str, int], val_counts: Mapping[str, int], minimum: int
) -> list[str]:
    """Lines for the start of training: notes per type (training / validation), then one
    warning per type with fewer than ``minimum`` training notes."""
    lines = [
        "training notes per type (validation in brackets): "
        + ", ".join(f"{c} {n} ({val_counts.get(c, 0)})" for c, n in train_counts.items())
    ]
    for c, n in train_counts.items():
        if n < minimum:
            lines.append(
                f"warning: type {c!r} has {n} training note{'s' * (n != 1)} (fewer than "
                f"{minimum}): the model will hardly learn it; annotate more, merge it into "
                "another type, or leave it out of the label set (--labels)"
            )
    return lines


def scores(net: VadNet, audio: np.ndarray) -> np.ndarray:
    """Class probabilities ``(ceil(N / hop), C)`` of a whole recording, in torch."""
    n_out = -(-len(audio) // net.hop)
    total = net.receptive_field + (n_out - 1) * net.hop
    padded = np.zeros(total, np.float32)
    padded[net.left_pad : net.left_pad + len(audio)] = audio
    with torch.no_grad():
        logits = net(torch.from_numpy(padded)[None].to(net.mel_mean.device))[0]
    return torch.softmax(logits, -1).cpu().numpy()[:n_out]


def frame_error(net: VadNet, recs: list[Recording]) -> float:
    net.eval()
    wrong = total = 0
    for r in recs:
        pred = scores(net, r.audio).argmax(-1)
        scored = r.labels != IGNORE
        wrong += int((pred != r.labels)[scored].sum())
        total += int(scored.sum())
    net.train()
    return wrong / max(total, 1)


def note_index(recs: Sequence[Recording]) -> list[list[tuple[int, int]]]:
    """Where the notes are, per class: ``out[c - 1]`` lists ``(recording index, centre frame)``
    of every run of class ``c`` frames (class 0, background, is not indexed)."""
    n_classes = max((int(r.labels.max()) for r in recs if len(r.labels)), default=0)
    out: list[list[tuple[int, int]]] = [[] for _ in range(n_classes)]
    for i, r in enumerate(recs):
        y = r.labels
        if not len(y):
            continue
        edges = np.flatnonzero(np.diff(y)) + 1
        for lo, hi in itertools.pairwise([0, *edges.tolist(), len(y)]):
            if y[lo] > 0:
                out[int(y[lo]) - 1].append((i, (lo + hi) // 2))
    return out


def batch(
    net: VadNet,
    recs: list[Recording],
    rng: np.random.Generator,
    size: int,
    n_out: int,
    fill: float = 0,
    *,
    notes: Sequence[Sequence[tuple[int, int]]] | None = None,
    balance: float = 0.0,
    snr_db: tuple[float, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops (gain and noise augmented) of ``n_out`` output frames and their labels;
    frames past either end of a recording are labelled ``fill``.

    With ``notes`` (:func:`note_index`) and ``balance`` > 0, that fraction of the crops is
    centred (± 3/8 of a crop) on a note of a class drawn uniformly among the classes that have
    notes, so that rare types are seen as often as common ones. With ``snr_db`` (lo, hi), half
    of the crops get white noise at a signal-to-noise ratio drawn in that range (dB, against the
    crop's own power) instead of the faint absolute noise floor."""
    n = net.receptive_field + (n_out - 1) * net.hop
    present = [c for c in (notes or []) if c]
    xs, ys = [], []
    for _ in range(size):
        if present and rng.random() < balance:
            kind = present[int(rng.integers(len(present)))]
            rec_i, centre = kind[int(rng.integers(len(kind)))]
            r = recs[rec_i]
            start_frame = centre - int(rng.integers(n_out // 8, n_out - n_out // 8))
        else:
            r = recs[int(rng.integers(len(recs)))]
            start_frame = int(rng.integers(-n_out // 4, max(1, len(r.labels) - n_out // 2)))
        x = np.zeros(n, np.float32)
        y = np.full(n_out, fill, r.labels.dtype)
        s0 = start_frame * net.hop - net.left_pad
        lo, hi = max(s0, 0), min(s0 + n, len(r.audio))
        if hi > lo:
            x[lo - s0 : hi - s0] = r.audio[lo:hi]
        f_lo, f_hi = max(start_frame, 0), min(start_frame + n_out, len(r.labels))
        if f_hi > f_lo:
            y[f_lo - start_frame : f_hi - start_frame] = r.labels[f_lo:f_hi]
        x *= float(10 ** (rng.uniform(-20, 10) / 20))
        add_noise(x, rng, snr_db)
        xs.append(x)
        ys.append(y)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))


def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: tuple[float, float] | None) -> None:
    """Add white noise to the crop ``x`` in place: with ``snr_db`` (lo, hi), to half of the
    crops, at a signal-to-noise ratio drawn in that range (dB, against the crop's own power);
    otherwise (or without ``snr_db``), to 30 % of the crops at a faint absolute level
    (-80 to -50 dBFS)."""
    if snr_db is not None and rng.random() < 0.5:
        power = float(np.mean(x.astype(np.float64) ** 2))
        if power > 0:
            sigma = math.sqrt(power / 10 ** (rng.uniform(*snr_db) / 10))
            x += rng.standard_normal(len(x)).astype(np.float32) * np.float32(sigma)
    elif rng.random() < 0.3:
        x += rng.standard_normal(len(x)).astype(np.float32) * float(
            10 ** (rng.uniform(-80, -50) / 20)
        )


def normalise_inputs(net: VadNet, recs: list[Recording]) -> None:
    """Set the network's input (log-mel) normalisation from the first 20 s of up to 30
    recordings."""
    with torch.no_grad():
        feats = torch.cat(
            [
                net.frontend(torch.from_numpy(r.audio[: net.config.sample_rate * 20])[None])[0]
                for r in recs[:30]
            ],
            1,
        )
    net.mel_mean.copy_(feats.mean(1, keepdim=True))
    net.mel_std.copy_(feats.std(1, keepdim=True).clamp_min(1e-3))


def fit(
    net: VadNet,
    train_recs: list[Recording],
    out: Path,
    meta: Mapping[str, object],
    *,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    validate: Callable[[], dict[str, float]],
    key: str,
    higher_is_better: bool,
    epochs: int,
    batch_size: int,
    n_out: int,
    lr: float,
    rng: np.random.Generator,
    say: Callable[[str], None],
    fill: float = 0,
    device: str = "cpu",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    min_steps: int = 0,
    patience: int | None = None,
    make_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> float:
    """The epoch loop shared by the recipes: AdamW + one-cycle schedule, an epoch covering the
    training frames about once, a JSON line per epoch (``out/log.jsonl``) with the mean loss and
    the ``validate()`` metrics, ``out/best.pt`` by ``validate()[key]`` and a resumable
    ``out/last.pt``, on torch ``device``; checkpoints hold CPU tensors. Returns the best ``key``
    value.

    ``min_steps``: epochs are lengthened so that the run takes at least this many optimisation
    steps in all (a few minutes of audio would otherwise get a few dozen steps).
    ``patience``: stop when that many epochs in a row did not improve on the best one (the best
    checkpoint is kept either way). ``make_batch``: the batch maker (default :func:`batch` over
    ``train_recs``)."""
    net.to(device)
    total_frames = sum(len(r.labels) for r in train_recs)
    steps_per_epoch = max(
        1, math.ceil(total_frames / (batch_size * n_out)), math.ceil(min_steps / max(epochs, 1))
    )
    total_steps = epochs * steps_per_epoch
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total_steps, pct_start=0.1
    )
    sign = 1.0 if higher_is_better else -1.0
    best, epoch, best_epoch = -sign * math.inf, 0, 0
    last = out / "last.pt"
    if last.exists():
        ck = load_resumable(last, net, opt, sched, rng, device)
        epoch, best = ck["epoch"], ck["best"]
        best_epoch = ck.get("best_epoch", epoch)
        say(f"resumed after epoch {epoch}")
    net.train()
    while epoch < epochs and (patience is None or epoch - best_epoch < patience):
        t_epoch, running = time.time(), 0.0
        for _ in range(steps_per_epoch):
            if make_batch is not None:
                x, y = make_batch()
            else:
                x, y = batch(net, train_recs, rng, batch_size, n_out, fill)
            x, y = x.to(device), y.to(device)
            running += optimiser_step(net, opt, sched, loss(net(x), y))
        epoch += 1
        # plain floats, so that the checkpoints load with torch.load(weights_only=True)
        metrics = {k: float(v) for k, v in validate().items()}
        record = {
            "epoch": epoch,
            "loss": round(running / steps_per_epoch, 4),
            **{k: round(v, 4) for k, v in metrics.items()},
            "seconds": round(time.time() - t_epoch, 1),
        }
        if on_epoch is not None:
            on_epoch(record)
        else:
            say(json.dumps(record))
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        state = {"model": weights, **meta, "epoch": epoch}
        if sign * metrics[key] > sign * best or not (out / "best.pt").exists():
            best, best_epoch = metrics[key], epoch
            torch.save({**state, **metrics}, out / "best.pt")
        save_resumable(
            last, net, opt, sched, rng, **meta, epoch=epoch, best=best, best_epoch=best_epoch
        )
    net.to("cpu")
    if epoch < epochs:
        say(
            f"stopped after epoch {epoch}: no validation improvement in {patience} epochs "
            f"(best: epoch {best_epoch})"
        )
    _record_epochs_run(out / "best.pt", epoch)
    return best


def _record_epochs_run(best_path: Path, epochs_run: int) -> None:
    """Store in ``best.pt`` how many epochs the run went through (its ``epoch`` is the best
    one's), so that the card can tell both."""
    if not best_path.exists():
        return
    ck = torch.load(best_path, weights_only=True)
    if ck.get("epochs_run") != epochs_run:
        ck["epochs_run"] = epochs_run
        tmp = best_path.with_suffix(".pt.tmp")
        torch.save(ck, tmp)
        tmp.replace(best_path)


def train(
    audio_dir: Path,
    annotations: Path,
    out: Path,
    *,
    config: VadConfig = BIRD_CONFIG,
    test_rule: str = "none",
    epochs: int = 30,
    batch_size: int = 16,
    seconds: float = 3.0,
    lr: float = 3e-3,
    seed: int = 0,
    threads: int | None = None,
    init: Path | None = None,
    log: callable | None = None,  # type: ignore[valid-type]
    device: str = "cpu",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    val_files: Sequence[str] | None = None,
    val_fraction: float | None = None,
    min_notes: int = MIN_TRAINING_NOTES,
    annot_format: str | None = None,
    min_steps: int = BIRD_MIN_STEPS,
    patience: int | None = BIRD_PATIENCE,
    labels: Sequence[str] | None = None,
) -> dict[str, object]:
    """Train from scratch (or from ``init``, a checkpoint of the same architecture and classes
    prefix) and write ``out/best.pt``, ``out/last.pt`` and ``out/log.jsonl``.

    The recipe, for any bird: recordings resampled to the model's rate; crops gain and noise
    augmented (:data:`BIRD_SNR_DB`), half of them centred on a note of a uniformly drawn type
    (:data:`BIRD_BALANCE`, so rare types are learnt); the frames at note boundaries weighted
    down in the loss (:func:`boundary_weighted_loss`); at least ``min_steps`` optimisation
    steps whatever the amount of data, up to ``epochs`` epochs, stopping after ``patience``
    epochs without a lower validation frame error; the best epoch is kept.

    ``labels``: the label set (the types to learn, as vak's ``labelset``); notes with other
    labels (calls, noise, "unsure" marks) are left out of the loss and of the scores, as
    neither background nor a type. ``None``: every label of the annotations.

    Validation files: ``val_files`` or ``val_fraction`` (see :func:`split_files`; default
    every 8th). Before training, ``log`` gets the notes per type and a warning for each type
    with fewer than ``min_notes`` training notes, and says so when the data are small
    (fewer than :data:`SMALL_DATA_FILES` files outside the test set)."""
    say = log or (lambda msg: print(msg, flush=True))
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    table = read_table(annotations, audio_dir, annot_format)
    classes, left_out = label_set(table, labels)
    if left_out:
        say(
            "left out (not in the label set, neither background nor a type): "
            + ", ".join(f"{lab!r} {n} note{'s' * (n != 1)}" for lab, n in left_out.items())
        )
    files = sorted({row[0] for row in table})
    train_files, val_split, test_files = split_files(
        files, test_rule, val_files=val_files, val_fraction=val_fraction
    )
    for line in describe_counts(
        note_counts(table, classes, train_files), note_counts(table, classes, val_split), min_notes
    ):
        say(line)
    if len(train_files) + len(val_split) < SMALL_DATA_FILES:
        say(
            f"small data: {len(train_files) + len(val_split)} annotated recordings "
            f"({len(train_files)} train, {len(val_split)} validate): the validation numbers "
            "are rough, and the decoding is tuned on them only when validation holds at least "
            f"{MIN_TUNING_FILES} recordings and {MIN_TUNING_NOTES} notes (else the model's "
            "defaults are kept); --val-files or --val-fraction choose the split"
        )
    cfg = dataclasses.replace(config, n_outputs=len(classes) + 1)
    net = VadNet(cfg, seed=seed)
    if init is not None:
        from .checkpoints import load_training_checkpoint  # it imports this module

        state = load_training_checkpoint(init)["model"]
        own = net.state_dict()
        net.load_state_dict(
            {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False
        )
    t0 = time.time()
    train_recs = load_recordings(audio_dir, table, classes, train_files, net)
    val_recs = load_recordings(audio_dir, table, classes, val_split, net)
    say(
        f"{len(train_recs)} training files, {len(val_recs)} validation files, "
        f"{len(test_files)} test files held out, classes {classes} ({time.time() - t0:.0f}s)"
    )
    normalise_inputs(net, train_recs)
    meta = {
        "task": "birdcalls",
        "classes": classes,
        "ignored_labels": sorted(left_out),
        "config": cfg.to_dict(),
        "train_files": train_files,
        "validation_files": val_split,
        "test_files": test_files,
    }
    n_out = int(seconds / FRAME_S)
    notes = note_index(train_recs)

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        return batch(
            net,
            train_recs,
            rng,
            batch_size,
            n_out,
            notes=notes,
            balance=BIRD_BALANCE,
            snr_db=BIRD_SNR_DB,
        )

    best = fit(
        net,
        train_recs,
        out,
        meta,
        loss=boundary_weighted_loss,
        validate=lambda: {"val_frame_error": frame_error(net, val_recs)},
        key="val_frame_error",
        higher_is_better=False,
        epochs=epochs,
        batch_size=batch_size,
        n_out=n_out,
        lr=lr,
        rng=rng,
        say=say,
        device=device,
        on_epoch=on_epoch,
        min_steps=min_steps,
        patience=patience,
        make_batch=make_batch,
    )
    return {
        "best_val_frame_error": best,
        "train_notes": note_counts(table, classes, train_files),
        **meta,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--audio", type=Path, required=True)
    p.add_argument("--annotations", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("runs/birdcalls"))
    p.add_argument("--test-rule", choices=("mod5", "none"), default="mod5")
    p.add_argument("--first-layer", choices=("gabor", "conv", "none"), default="gabor")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    cfg = dataclasses.replace(BIRD_CONFIG, first_layer=args.first_layer)
    train(
        args.audio,
        args.annotations,
        args.out,
        config=cfg,
        test_rule=args.test_rule,
        epochs=args.epochs,
        batch_size=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
