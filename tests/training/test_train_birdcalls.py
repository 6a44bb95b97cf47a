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
        min_steps=0,
        patience=None,
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


def _recording(name: str, labels: list[int], hop: int = 320) -> object:
    from gabortag.training.frames import Recording

    return Recording(name, np.zeros(len(labels) * hop, np.float32), np.array(labels, np.int64))


def test_note_index_lists_each_typed_run_once() -> None:
    from gabortag.training.frames import IGNORE, note_index

    recs = [
        _recording("a", [0, 1, 1, 1, 0, 2, 2, 0, IGNORE, IGNORE, 1]),
        _recording("b", [2, 2, 2, 0]),
    ]
    index = note_index(recs)  # type: ignore[arg-type]
    assert index == [[(0, 2), (0, 10)], [(0, 6), (1, 1)]]


def test_balanced_crops_show_rare_types_as_often_as_common_ones() -> None:
    import dataclasses

    from gabortag.training.frames import BIRD_CONFIG, batch, note_index
    from gabortag.training.nets.framenet import VadNet

    net = VadNet(dataclasses.replace(BIRD_CONFIG, n_outputs=3, channels=8, n_kernels=4))
    # one long recording: 60 notes of type 1, 2 notes of type 2, 20 frames each, 30 apart
    labels = [0] * 30
    for k in range(62):
        labels += [2 if k in (10, 40) else 1] * 20 + [0] * 30
    recs = [_recording("r", labels, net.hop)]
    notes = note_index(recs)  # type: ignore[arg-type]

    def share_of_rare(balance: float) -> float:
        rng = np.random.default_rng(0)
        _, y = batch(net, recs, rng, 400, 60, notes=notes, balance=balance)  # type: ignore[arg-type]
        return float((y == 2).any(1).float().mean())

    assert share_of_rare(0.0) < 0.15  # about 2 crops in 62 notes' worth
    assert share_of_rare(1.0) > 0.4  # half of the crops are centred on a type-2 note


def test_snr_noise_is_relative_to_the_crop() -> None:
    from gabortag.training.frames import add_noise

    rng = np.random.default_rng(1)
    snrs = []
    for level in (0.5, 0.2) * 100:
        clean = np.full(4000, level, np.float32)
        x = clean.copy()
        add_noise(x, rng, (20.0, 20.0))
        noise = float(np.mean((x - clean).astype(np.float64) ** 2))
        snrs.append(10 * np.log10(level**2 / noise) if noise > 0 else np.inf)
    snr = np.array(snrs)
    noisy = snr[snr < 30]  # the faint absolute floor (-50 dBFS at most) is 36 dB under 0.2
    assert 0.3 < len(noisy) / len(snr) < 0.7  # half of the crops
    assert np.all(np.abs(noisy - 20.0) < 0.5), noisy  # whatever the crop's level


def test_boundary_weighted_loss_ignores_left_out_frames_and_softens_edges() -> None:
    from gabortag.training.frames import IGNORE, boundary_weighted_loss

    y = torch.tensor([[0, 0, 0, 1, 1, 1, IGNORE, IGNORE, 0, 0]])
    logits = torch.zeros(1, 10, 2)
    logits[0, :, 0] = 3.0  # confident background everywhere
    base = boundary_weighted_loss(logits, y)
    changed = logits.clone()
    changed[0, 6:8] = torch.tensor([-5.0, 9.0])  # anything at the left-out frames
    assert torch.isclose(boundary_weighted_loss(changed, y), base)
    # a wrong frame in the middle of a note costs more than one at its boundary
    mid, edge = logits.clone(), logits.clone()
    wrong = torch.tensor([9.0, -9.0])
    y2 = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 0, 0]])
    good = torch.zeros(1, 10, 2)
    good[0, :, 0] = torch.where(y2[0] == 0, 9.0, -9.0)
    mid, edge = good.clone(), good.clone()
    mid[0, 5] = wrong
    edge[0, 3] = wrong
    assert boundary_weighted_loss(mid, y2) > 2 * boundary_weighted_loss(edge, y2)


def test_frame_error_leaves_out_ignored_frames() -> None:
    import dataclasses

    from gabortag.training.frames import BIRD_CONFIG, IGNORE, Recording, frame_error
    from gabortag.training.nets.framenet import VadNet

    net = VadNet(dataclasses.replace(BIRD_CONFIG, n_outputs=2, channels=8, n_kernels=4))
    audio = np.zeros(net.hop * 40, np.float32)
    pred = None
    with torch.no_grad():
        from gabortag.training.frames import scores

        pred = scores(net, audio).argmax(-1)
    labels = pred.copy()
    labels[:10] = IGNORE
    assert frame_error(net, [Recording("r", audio, labels)]) == 0.0
    labels[10] = 1 - labels[10]
    assert frame_error(net, [Recording("r", audio, labels)]) == 1 / 30


def test_label_set_leaves_other_labels_out() -> None:
    from gabortag.training.frames import label_set

    table = [("a.wav", 0.0, 0.1, "i"), ("a.wav", 0.2, 0.3, "0"), ("b.wav", 0, 1, "ab")]
    table += [("b.wav", 1.0, 1.1, "0"), ("b.wav", 1.2, 1.3, "-")]
    assert label_set(table, None) == (["-", "0", "i", "ab"], {})
    assert label_set(table, ["ab", "i"]) == (["i", "ab"], {"-": 1, "0": 2})
    with pytest.raises(ValueError, match="labels: 'q' not among the annotated labels"):
        label_set(table, ["i", "q"])
    with pytest.raises(ValueError, match="empty"):
        label_set(table, [])


def _fit_run(tmp_path: Path, **kw: object) -> tuple[int, list[int]]:
    import dataclasses

    from gabortag.training.frames import BIRD_CONFIG, fit
    from gabortag.training.nets.framenet import VadNet

    tmp_path.mkdir()
    config = dataclasses.replace(
        BIRD_CONFIG, n_outputs=2, channels=4, n_kernels=2, kernel_size=(3, 3), dilations=(1,)
    )
    net = VadNet(config)
    rec = _recording("r", [0, 1] * 50, net.hop)
    calls = [0]
    epochs: list[int] = []

    def make_batch() -> tuple[object, object]:
        calls[0] += 1
        return torch.zeros(2, net.receptive_field + 9 * net.hop), torch.zeros(
            2, 10, dtype=torch.long
        )

    fit(
        net,
        [rec],  # type: ignore[list-item]
        tmp_path,
        {},
        loss=lambda lo, y: torch.nn.functional.cross_entropy(lo.reshape(-1, 2), y.reshape(-1)),
        validate=lambda: {"v": 1.0},  # never improves after the first epoch
        key="v",
        higher_is_better=False,
        epochs=4,
        batch_size=2,
        n_out=10,
        lr=1e-3,
        rng=np.random.default_rng(0),
        say=lambda _: None,
        on_epoch=lambda r: epochs.append(int(r["epoch"])),
        make_batch=make_batch,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    return calls[0], epochs


def test_fit_lengthens_epochs_to_a_step_budget_and_stops_on_patience(tmp_path: Path) -> None:
    steps, epochs = _fit_run(tmp_path / "a")
    assert epochs == [1, 2, 3, 4] and steps == 4 * 5  # 100 frames / (2 x 10) per epoch
    steps, epochs = _fit_run(tmp_path / "b", min_steps=40)
    assert epochs == [1, 2, 3, 4] and steps == 4 * 10
    steps, epochs = _fit_run(tmp_path / "c", patience=2)
    assert epochs == [1, 2, 3]  # epoch 1 is the best; 2 and 3 do not improve on it


def test_train_command_defaults_are_the_recipe_constants() -> None:
    import inspect

    from gabortag.cli.train import train_birdcalls
    from gabortag.training.frames import BIRD_MIN_STEPS, BIRD_PATIENCE

    params = inspect.signature(train_birdcalls).parameters
    assert params["min_steps"].default == BIRD_MIN_STEPS
    assert params["patience"].default == BIRD_PATIENCE


def test_train_command_rejects_an_unknown_or_empty_label_set(tmp_path: Path) -> None:
    _make_corpus(tmp_path, n_files=2, seconds=1.0)
    exe = Path(sys.executable).with_name("gabortag")
    if not exe.exists():
        pytest.skip("console script not installed")
    base = [str(exe), "train", "birdcalls", "--audio", str(tmp_path), "--annotations"]
    base += [str(tmp_path / "calls.csv"), "--out", str(tmp_path / "o"), *TINY]
    run = subprocess.run([*base, "--labels", "up,zz"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "labels: 'zz' not among the annotated labels" in run.stderr
    assert "Traceback" not in run.stderr
    run = subprocess.run([*base, "--labels", ","], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "--labels: no label given" in run.stderr


def test_final_report_warns_on_a_poor_or_thin_validation() -> None:
    from gabortag.training.frames import final_report

    good = final_report({"note_error_rate": 0.01, "true_notes": 400}, {"a": 100, "b": 50}, 20)
    assert good == ["validation note error rate 1.00 % (400 notes)"]
    poor = final_report({"note_error_rate": 0.08, "true_notes": 40}, {"a": 100, "b": 3}, 20)
    assert poor[0] == "validation note error rate 8.00 % (40 notes)"
    assert poor[1].startswith("warning: the validation note error rate is above 4 %")
    assert poor[2].startswith("warning: only 40 validation notes")
    assert poor[3] == "warning: too few training notes (under 20) to learn 'b' (3)"


def test_recordings_at_another_rate_are_resampled_with_their_labels_in_place(
    tmp_path: Path,
) -> None:
    """A bird recorded at 44.1 kHz trains at the model's 32 kHz: same duration, and each
    note's frames are where the note's loudness is."""
    from gabortag.training.frames import BIRD_CONFIG, load_recordings
    from gabortag.training.nets.framenet import VadNet

    rate = 44100
    rng = np.random.default_rng(1)
    audio = rng.standard_normal(3 * rate).astype(np.float32) * 0.001
    notes = [(0.5, 0.62, 1), (1.3, 1.45, 2), (2.2, 2.3, 1)]
    for on, off, _ in notes:
        t = np.arange(int((off - on) * rate)) / rate
        audio[int(on * rate) : int(on * rate) + len(t)] += 0.3 * np.sin(2 * np.pi * 4000 * t)
    sf.write(tmp_path / "r.wav", audio, rate)
    net = VadNet(BIRD_CONFIG)
    table = [("r.wav", on, off, "ab"[c - 1]) for on, off, c in notes]
    (rec,) = load_recordings(tmp_path, table, ["a", "b"], ["r.wav"], net)
    model_rate = BIRD_CONFIG.sample_rate
    assert model_rate != rate
    assert abs(len(rec.audio) - 3 * model_rate) <= 1
    hop_s = net.hop / model_rate
    for on, off, cls in notes:
        frames = np.flatnonzero(rec.labels == cls)
        inside = frames[(frames * hop_s >= on - hop_s) & (frames * hop_s <= off)]
        assert len(inside) >= int((off - on) / hop_s) - 1
        k = int((on + off) / 2 / hop_s)
        loud = np.abs(rec.audio[k * net.hop : (k + 1) * net.hop]).mean()
        quiet = np.abs(rec.audio[int(0.1 * model_rate) : int(0.2 * model_rate)]).mean()
        assert loud > 20 * quiet
