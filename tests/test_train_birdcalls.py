"""A tiny training run on synthetic chirp "calls" of two types learns to tell them apart,
through the same recipe and release step as the shipped model and `gabortag train birdcalls`."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

RATE = 32000


def _chirp(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    lo, hi = (2000.0, 6000.0) if kind == "up" else (6000.0, 2000.0)
    freq = lo + (hi - lo) * t / seconds
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    env = np.sin(np.pi * t / seconds) ** 2
    return (0.3 * env * np.sin(phase + rng.uniform(0, 6))).astype(np.float32)


def _make_corpus(folder: Path, n_files: int = 6, seconds: float = 6.0) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_files):
        audio = rng.standard_normal(int(seconds * RATE)).astype(np.float32) * 0.003
        pos = 0.2
        while pos < seconds - 0.4:
            kind = "up" if rng.random() < 0.5 else "down"
            dur = float(rng.uniform(0.08, 0.15))
            start = int(pos * RATE)
            call = _chirp(kind, dur, rng)
            audio[start : start + len(call)] += call
            rows.append((f"rec{i}.wav", round(pos, 4), round(pos + dur, 4), kind))
            pos += dur + float(rng.uniform(0.1, 0.4))
        sf.write(folder / f"rec{i}.wav", audio, RATE)
    table = folder / "calls.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "onset_s", "offset_s", "label"])
        w.writerows(rows)
    return table


TINY = [
    "--kernels",
    "4",
    "--kernel-size",
    "5x9",
    "--channels",
    "8",
    "--epochs",
    "8",
    "--from-scratch",
    "--threads",
    "2",
]


def test_tiny_training_run_tells_two_chirp_types_apart(tmp_path: Path) -> None:
    from gabortag.tasks.birdcalls.decode import EventOptions
    from gabortag.training.frames import BIRD_CONFIG, train
    from gabortag.training.nets.framenet import VadConfig
    from gabortag.training.recipes.release_birdcalls import release

    table = _make_corpus(tmp_path)
    config = VadConfig(
        **{
            **BIRD_CONFIG.to_dict(),
            "n_kernels": 4,
            "kernel_size": (5, 9),
            "channels": 8,
            "dilations": (1, 2),
        }
    )
    out = tmp_path / "run"
    records: list[dict[str, float]] = []
    said: list[str] = []
    train(
        tmp_path,
        table,
        out,
        config=config,
        epochs=15,
        seed=0,
        threads=2,
        lr=1e-2,
        seconds=1.0,
        batch_size=8,
        log=said.append,
        on_epoch=records.append,
    )
    assert [r["epoch"] for r in records] == list(range(1, 16))
    assert all("val_frame_error" in r and "loss" in r for r in records)
    # per-type counts first, and small data is said to be small (6 files, one validates)
    counts = next(line for line in said if line.startswith("training notes per type"))
    ups = sum(
        1
        for row in csv.DictReader(open(table))
        if row["label"] == "up" and row["file"] != "rec5.wav"
    )
    assert f"up {ups} (" in counts
    assert any(
        line.startswith("small data: 6 annotated recordings (5 train, 1 validate)") for line in said
    )
    fallback = EventOptions(min_confidence=0.45, min_duration=0.03)
    card = release(
        out / "best.pt",
        tmp_path,
        table,
        out / "model.onnx",
        "chirps",
        fallback=fallback,
        log=said.append,
    )
    val = card["metrics"]["validation"]
    assert card["labels"][0] == "background" and set(card["labels"]) == {"background", "up", "down"}
    assert val["note_type_accuracy"] >= 0.9, val
    assert val["frame_error_rate"] <= 0.2, val
    # both the epochs run and the one kept
    best = min(records, key=lambda r: r["val_frame_error"])["epoch"]
    assert card["training"]["epochs"] == 15
    assert card["training"]["best_epoch"] == best
    # one validation file is too few to tune the decoding on: the fallback is kept, and said
    assert card["postprocess"] == fallback.to_dict()
    assert card["postprocess_tuned_on"].startswith("not tuned: the validation set (1 file, ")
    assert said[-1].startswith("decoding not tuned")


def test_validation_split_options() -> None:
    from gabortag.training.frames import split_files

    files = [f"{i}.wav" for i in range(10)]
    train, val, test = split_files(files, "none")
    assert val == ["7.wav"] and test == [] and len(train) == 9  # every 8th, sorted by name
    _, val, _ = split_files(files, "none", val_files=["3", "sub/5.wav", "8.wav"])
    assert val == ["3.wav", "5.wav", "8.wav"]
    train, val, _ = split_files(files, "none", val_fraction=0.3)
    assert len(val) == 3 and len(train) == 7 and not set(val) & set(train)
    _, val, _ = split_files(files[:2], "none", val_fraction=0.9)
    assert len(val) == 1  # at least one file trains
    with pytest.raises(ValueError, match="'zz' not among the annotated recordings"):
        split_files(files, "none", val_files=["zz"])
    with pytest.raises(ValueError, match="leave at least one for training"):
        split_files(files[:2], "none", val_files=files[:2])
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_files(files, "none", val_fraction=1.5)


def test_rare_types_are_warned_about() -> None:
    from gabortag.training.frames import describe_counts

    lines = describe_counts({"a": 120, "b": 1, "c": 0}, {"a": 10, "b": 2}, 20)
    assert (
        lines[0] == "training notes per type (validation in brackets): a 120 (10), b 1 (2), c 0 (0)"
    )
    assert len(lines) == 3
    assert lines[1].startswith("warning: type 'b' has 1 training note (fewer than 20)")
    assert lines[2].startswith("warning: type 'c' has 0 training notes")


def _train_command(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("gabortag")
    if not exe.exists():
        pytest.skip("console script not installed")
    table = tmp_path / "bad.csv"
    table.write_text("file,onset,label\nx.wav,0.1,a\n")
    return subprocess.run(
        [
            str(exe),
            "train",
            "birdcalls",
            "--audio",
            str(tmp_path),
            "--annotations",
            str(table),
            "--out",
            str(tmp_path / "o"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_train_command_reports_a_bad_table_clearly(tmp_path: Path) -> None:
    run = _train_command(tmp_path, *TINY)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "offset_s" in run.stderr, run.stderr


def test_train_command_refuses_two_validation_choices(tmp_path: Path) -> None:
    run = _train_command(tmp_path, "--val-files", "a.wav", "--val-fraction", "0.2")
    assert run.returncode == 2 and "not both" in run.stderr
    run = _train_command(tmp_path, "--val-fraction", "1")
    assert run.returncode == 2 and "between 0 and 1" in run.stderr


def test_train_command_rejects_even_kernel_sizes(tmp_path: Path) -> None:
    run = _train_command(tmp_path, "--kernel-size", "8x15")
    assert run.returncode == 2 and "odd" in run.stderr
