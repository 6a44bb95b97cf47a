"""The scene classifier's training side: the network, ONNX export parity, clip metrics, and the
new-user walkthrough (`gabortag train scenes` → `gabortag scenes` → `gabortag eval scenes`) at
a tiny scale on synthetic clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import subprocess  # noqa: E402

from _cli_helpers import needs_script, run  # noqa: E402

from gabortag.inference import Model  # noqa: E402
from gabortag.models import ModelSpec  # noqa: E402
from gabortag.tasks.scenes.evaluate import (  # noqa: E402
    evaluate_scene_files,
    read_scene_reference,
    scene_report,
)
from gabortag.training.clips import noise_index, training_index  # noqa: E402
from gabortag.training.export import export_onnx  # noqa: E402
from gabortag.training.nets.scenenet import SceneConfig, SceneNet, from_checkpoint  # noqa: E402
from gabortag.training.recipes.release_scenes import metadata  # noqa: E402
from gabortag.training.recipes.scenes_data import CLASSES, ESC10_CLASSES  # noqa: E402
from gabortag.training.scenes import collect, split, windows  # noqa: E402

SR = 16000


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=Path.cwd(), timeout=600)


SCRATCH = ("train", "scenes", "--from-scratch", "--epochs", "2", "--kernels", "4", "--threads", "1")
TINY = SceneConfig(n_kernels=4, channels=(8, 8, 8), n_classes=3)


@pytest.mark.parametrize("first_layer", ["gabor", "conv", "none"])
def test_scenenet_accepts_its_shortest_window(first_layer: str) -> None:
    net = SceneNet(SceneConfig(first_layer=first_layer, channels=(8, 8, 8))).eval()
    with torch.no_grad():
        out = net(torch.randn(2, net.min_samples) * 0.1)
    assert out.shape == (2, 14)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("first_layer", ["gabor", "conv", "none"])
def test_export_matches_torch(tmp_path: Path, first_layer: str) -> None:
    """Every export path: random input (checked inside export_onnx) and a real-shaped clip."""
    net = SceneNet(SceneConfig(n_kernels=4, channels=(8, 8, 8), first_layer=first_layer)).eval()
    path = tmp_path / "m.onnx"
    worst = export_onnx(
        net, path, metadata(net, "tiny", [str(i) for i in range(14)]), 5 * SR, window_classes=True
    )
    assert worst < 1e-4
    model = Model(ModelSpec("tiny", path, None), threads=1)
    t = np.arange(3 * SR) / SR
    clip = (0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.5 < 0.25)).astype(np.float32)
    batch = np.stack(
        [clip, np.random.default_rng(0).standard_normal(3 * SR).astype(np.float32) * 0.05]
    )
    got = model.run(batch)
    with torch.no_grad():
        ref = torch.softmax(net(torch.from_numpy(batch)), -1).numpy()
    assert got.shape == (2, 14)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert model.info.task == "scenes"
    assert model.info.metadata["gabortag.min_samples"] == str(net.min_samples)


def test_cross_validation_training_clips() -> None:
    """A fold's training clips never include that fold; the shipped recipe adds the extra
    classes' training clips but not their held-out ones nor the recorded background noises."""
    bg = CLASSES.index("background")
    speech = CLASSES.index("speech")
    rows = [(c, f, "train", "esc10") for c in range(len(ESC10_CLASSES)) for f in range(1, 6)]
    rows += [
        (speech, 0, "train", "fsdd"),
        (speech, 0, "heldout", "grid"),
        (bg, 0, "train", "synthetic/room"),
        (bg, 0, "train", "speech_commands/_silence_"),
    ]
    data = {
        k: np.array(v)
        for k, v in zip(("label", "fold", "split", "source"), zip(*rows, strict=True), strict=True)
    }
    for fold in range(1, 6):
        only = training_index(data, fold, "esc10-only")
        assert set(data["fold"][only]) == {1, 2, 3, 4, 5} - {fold}
        assert len(only) == 4 * len(ESC10_CLASSES)
        shipped = training_index(data, fold)
        assert fold not in set(data["fold"][shipped])
        extra = [rows[i][3] for i in shipped if rows[i][0] >= len(ESC10_CLASSES)]
        assert extra == ["fsdd", "synthetic/room"]
    assert [rows[i][3] for i in noise_index(data)] == [
        "synthetic/room",
        "speech_commands/_silence_",
    ]
    with pytest.raises(ValueError, match="recipe"):
        training_index(data, 1, "everything")


def test_scene_report_counts() -> None:
    labels = ["a", "b", "c"]
    probs = np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    report = scene_report(["a", "b", "b", "b"], probs, labels)
    assert report["accuracy"] == 0.5
    # restricted to the labels used (a, b): the last clip's best is b
    assert report["accuracy_within_reference_labels"] == 0.75
    assert report["confusion"]["labels"] == ["a", "b"]
    assert report["confusion"]["rows"] == [[1, 0, 0], [1, 1, 1]]
    per = {c["label"]: c for c in report["per_class"]}
    assert per["a"]["precision"] == 0.5 and per["a"]["recall"] == 1.0
    assert per["b"]["precision"] == 1.0 and per["b"]["recall"] == pytest.approx(1 / 3, abs=1e-4)


def test_reference_needs_file_and_label(tmp_path: Path) -> None:
    from gabortag.errors import AnnotationError

    bad = tmp_path / "ref.csv"
    bad.write_text("name,class\nx.wav,a\n")
    with pytest.raises(AnnotationError, match="file,label"):
        read_scene_reference(bad)
    good = tmp_path / "good.csv"
    good.write_text("file,label,fold\nsub/x.wav,a,1\ny.flac,b,2\n")
    assert read_scene_reference(good) == {"x": "a", "y": "b"}


def _tone(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def _noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return (0.2 * rng.standard_normal(int(seconds * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder per class: 6 tone clips and 6 noise clips of 1-7 s, one unreadable file."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    for i in range(6):
        (root / "tone").mkdir(exist_ok=True)
        (root / "noise").mkdir(exist_ok=True)
        sf.write(root / "tone" / f"t{i}.wav", _tone(300 + 150 * i, 1 + i, rng), SR)
        sf.write(root / "noise" / f"n{i}.flac", _noise(1 + i, rng), SR)
    (root / "noise" / "broken.wav").write_bytes(b"RIFF not really")
    return root


def test_collect_split_and_windows(two_classes: Path) -> None:
    classes, files = collect(two_classes)
    assert classes == ["noise", "tone"]
    train, val = split(files)
    assert sorted(train + val) == list(range(len(files)))
    val_classes = {files[i][1] for i in val}
    assert val_classes == {0, 1}  # every class validates
    assert not {files[i][0] for i in train} & {files[i][0] for i in val}
    short = windows(two_classes / "tone" / "t0.wav")  # 1 s, repeated to fill 5 s
    assert len(short) == 1 and len(short[0]) == 5 * SR
    assert len(windows(two_classes / "tone" / "t5.wav")) == 1  # 6 s: one full window


@needs_script
def test_new_user_walkthrough(two_classes: Path, tmp_path: Path) -> None:
    """The README's steps at a tiny scale: train from scratch, tag, evaluate."""
    out = tmp_path / "model"
    train = run_cli(*SCRATCH, "--audio", str(two_classes), "--out", str(out))
    assert train.returncode == 0, train.stderr
    result = json.loads(train.stdout)
    assert result["model"] == str(out / "model.onnx")
    assert "epoch 2/2" in train.stderr
    assert "broken.wav" in train.stderr  # reported and skipped, training went on
    card = json.loads((out / "model.card.json").read_text())
    assert card["labels"] == ["noise", "tone"]
    assert card["metrics"]["validation"]["clips"] == 2

    tagged = run_cli("scenes", "-m", str(out / "model.onnx"), str(two_classes / "tone" / "t3.wav"))
    assert tagged.returncode == 0, tagged.stderr
    windows_out = json.loads(tagged.stdout)["files"][0]["windows"]
    assert windows_out and {lab["label"] for w in windows_out for lab in w["labels"]} <= {
        "noise",
        "tone",
    }

    evaluated = run_cli(
        "eval",
        "scenes",
        "-m",
        str(out / "model.onnx"),
        str(two_classes / "tone"),
        str(two_classes / "noise" / "n2.flac"),
        "--json",
        "-",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    doc = json.loads(evaluated.stdout)
    assert doc["overall"]["clips"] == 7

    # resuming a finished run trains nothing and still releases
    again = run_cli(*SCRATCH, "--audio", str(two_classes), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "resumed after epoch 2" in again.stderr


@needs_script
def test_fine_tune_from_checkpoint(two_classes: Path, tmp_path: Path) -> None:
    base = SceneNet(TINY)
    ck = tmp_path / "base.pt"
    torch.save({"model": base.state_dict(), "config": base.config.to_dict()}, ck)
    out = tmp_path / "tuned"
    run = run_cli(
        "train",
        "scenes",
        "--audio",
        str(two_classes),
        "--out",
        str(out),
        "--init",
        str(ck),
        "--epochs",
        "1",
        "--threads",
        "1",
    )
    assert run.returncode == 0, run.stderr
    tuned = from_checkpoint(torch.load(out / "best.pt", weights_only=False))
    assert tuned.config.n_classes == 2
    assert tuned.config.channels == TINY.channels
    # the Gabor layer came from the checkpoint, the normalisation too
    assert torch.equal(tuned.mel_mean, base.mel_mean)


@needs_script
def test_train_usage_errors(two_classes: Path, tmp_path: Path) -> None:
    run = run_cli("train", "scenes", "--audio", str(two_classes), "--kernels", "8")
    assert run.returncode == 2 and "--from-scratch" in run.stderr
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    sf.write(one / "only" / "x.wav", np.zeros(SR, np.float32), SR)
    run = run_cli(
        "train", "scenes", "--audio", str(one), "--out", str(tmp_path / "o"), "--from-scratch"
    )
    assert run.returncode == 1 and "at least two" in run.stderr


@needs_script
def test_eval_scenes_with_reference(scenes_model: Path, tmp_path: Path) -> None:
    """Labels from a reference CSV; a file it does not list fails alone (exit 1)."""
    rng = np.random.default_rng(1)
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    sf.write(a, np.zeros(8000, np.float32), 8000)
    sf.write(b, (0.3 * rng.standard_normal(8000)).astype(np.float32), 8000)
    sf.write(c, np.zeros(8000, np.float32), 8000)
    ref = tmp_path / "ref.csv"
    ref.write_text("file,label\na.wav,background\nb.wav,speech\n")
    result = evaluate_scene_files(scenes_model, [a, b], ref)
    assert result.overall is not None and result.overall["clips"] == 2
    assert [f.truth for f in result.files] == ["background", "speech"]
    run = run_cli("eval", "scenes", "-m", str(scenes_model), str(a), str(b), str(c), "-r", str(ref))
    assert run.returncode == 1
    assert "c.wav" in run.stderr and "no reference entry" in run.stderr
    assert "accuracy" in run.stdout


def test_clip_scores_weight_windows_by_length(scenes_model: Path, tmp_path: Path) -> None:
    """A clip half a window longer than the window: the short last window counts for its
    length; a clip a few samples longer is one window, the tail merged into it."""
    from gabortag.tasks.scenes.api import SceneOptions, score_windows, windowing
    from gabortag.tasks.scenes.evaluate import clip_scores

    rng = np.random.default_rng(2)
    model = Model(ModelSpec("tiny", scenes_model, None), threads=1)
    win = windowing(model, SceneOptions(hop_s=1.0))
    x = np.concatenate([0.3 * rng.standard_normal(8000), np.full(4000, 0.9)]).astype(np.float32)
    path = tmp_path / "clip.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    windows = list(score_windows(model, [x], win))
    assert [(s, e) for s, e, _ in windows] == [(0, 8000), (8000, 12000)]
    expected = (windows[0][2] * 8000 + windows[1][2] * 4000) / 12000
    np.testing.assert_allclose(clip_scores(model, path, hop_s=1.0), expected, atol=1e-5)
    assert not np.allclose(windows[0][2], windows[1][2], atol=1e-2)  # the weighting matters
    sf.write(path, x[:8008], 8000, subtype="FLOAT")
    (whole,) = score_windows(model, [x[:8008]], win)
    assert whole[:2] == (0, 8008)
    np.testing.assert_allclose(clip_scores(model, path, hop_s=1.0), whole[2], atol=1e-5)


@needs_script
def test_export_a_scenes_checkpoint(tmp_path: Path) -> None:
    """`gabortag export` recognises a scenes checkpoint; the result runs with `gabortag scenes`."""
    net = SceneNet(TINY)
    ck = tmp_path / "tiny.pt"
    torch.save(
        {"model": net.state_dict(), "config": net.config.to_dict(), "labels": ["a", "b", "c"]}, ck
    )
    done = run_cli("export", str(ck), "-o", str(tmp_path / "tiny.onnx"))
    assert done.returncode == 0, done.stderr
    card = json.loads((tmp_path / "tiny.card.json").read_text())
    assert card["task"] == "scenes" and card["labels"] == ["a", "b", "c"]
    assert card["export"]["max_abs_diff_torch_vs_onnx"] < 1e-4
    clip = tmp_path / "clip.wav"
    sf.write(clip, (0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32), SR)
    tagged = run_cli("scenes", "-m", str(tmp_path / "tiny.onnx"), str(clip), "-f", "csv")
    assert tagged.returncode == 0, tagged.stderr
    assert tagged.stdout.splitlines()[0] == "path,start,end,label,score"
