"""A tiny voice activity training run on synthetic speech-like recordings labelled by an RTTM
learns to find the speech, through the recipe and release step of `gabortag train vad`."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from _torch_helpers import SR, speech_like  # noqa: E402


def _make_corpus(folder: Path, n_files: int = 6, seconds: float = 6.0) -> Path:
    """``n_files`` recordings of low noise with speech-like segments, and their RTTM."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n_files):
        audio = rng.standard_normal(int(seconds * SR)).astype(np.float32) * 0.003
        pos = float(rng.uniform(0.2, 0.6))
        while pos < seconds - 0.8:
            dur = float(rng.uniform(0.4, 1.0))
            start = int(pos * SR)
            seg = speech_like(dur, rng)
            audio[start : start + len(seg)] += seg
            lines.append(f"SPEAKER rec{i} 1 {pos:.3f} {len(seg) / SR:.3f} <NA> <NA> spk <NA> <NA>")
            pos += dur + float(rng.uniform(0.3, 0.9))
        sf.write(folder / f"rec{i}.wav", audio, SR)
    rttm = folder / "speech.rttm"
    rttm.write_text("\n".join(lines) + "\n")
    return rttm


# small crops, so that a few seconds of audio make enough steps
SMALL: dict[str, Any] = {"seconds": 1.0, "batch_size": 4, "threads": 2, "log": lambda _m: None}


def test_tiny_vad_training_run_finds_speech(tmp_path: Path) -> None:
    from gabortag.training.vad import VAD_CONFIG, release, train

    audio = tmp_path / "audio"
    audio.mkdir()
    rttm = _make_corpus(audio)
    config = dataclasses.replace(VAD_CONFIG, n_kernels=4, channels=8, dilations=(1, 2))
    out = tmp_path / "run"
    result = train(audio, rttm, out, config=config, epochs=6, lr=1e-2, **SMALL)
    assert result["validation_files"] == ["rec5"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(log) == 6 and {"loss", "val_auc", "val_f1@0.5"} <= set(log[0])
    again = train(audio, rttm, out, config=config, epochs=6, log=lambda _msg: None)
    assert again["best_val_auc"] == result["best_val_auc"]  # resumed after the last epoch
    assert len((out / "log.jsonl").read_text().splitlines()) == 6
    card = release(out / "best.pt", audio, rttm, out / "model.onnx")
    written = json.loads((out / "model.card.json").read_text())
    assert written["metrics"] == card["metrics"] and written["postprocess"] == card["postprocess"]
    val = card["metrics"]["validation"]
    assert card["task"] == "vad" and card["training"]["validation_files"] == ["rec5"]
    assert val["roc_auc"] >= 0.9, val
    best = max(log, key=lambda r: (r["val_auc"], -r["epoch"]))["epoch"]
    assert (card["training"]["epochs"], card["training"]["best_epoch"]) == (6, best)


def test_fine_tuning_starts_from_the_bundled_checkpoint(tmp_path: Path) -> None:
    from gabortag.models import find_entry, models_dir, read_card
    from gabortag.training.vad import train

    checkpoint = models_dir() / read_card(find_entry("vad"))["checkpoint"]
    audio = tmp_path / "audio"
    audio.mkdir()
    rttm = _make_corpus(audio, seconds=3.0)
    out = tmp_path / "run"
    result = train(audio, rttm, out, init=checkpoint, epochs=1, **SMALL)
    assert result["config"] == torch.load(checkpoint, weights_only=False)["config"]
    assert result["best_val_auc"] >= 0.9


def _train_vad(tmp_path: Path, rttm: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("gabortag")
    if not exe.exists():
        pytest.skip("console script not installed")
    return subprocess.run(
        [str(exe), "train", "vad", "--audio", str(tmp_path), "--reference", str(rttm), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_train_vad_command_reports_an_unmatched_reference(tmp_path: Path) -> None:
    sf.write(tmp_path / "rec0.wav", np.zeros(SR, np.float32), SR)
    rttm = tmp_path / "other.rttm"
    rttm.write_text("SPEAKER meeting7 1 0.100 0.500 <NA> <NA> spk <NA> <NA>\n")
    run = _train_vad(tmp_path, rttm, "--out", str(tmp_path / "o"), "--from-scratch")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "names no audio file" in run.stderr and "meeting7" in run.stderr, run.stderr


def test_architecture_options_need_from_scratch(tmp_path: Path) -> None:
    rttm = tmp_path / "ref.rttm"
    rttm.write_text("SPEAKER rec0 1 0.100 0.500 <NA> <NA> spk <NA> <NA>\n")
    run = _train_vad(tmp_path, rttm, "--kernels", "8")
    assert run.returncode == 2 and "--from-scratch" in run.stderr
