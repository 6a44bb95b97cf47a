"""``gabortag export``: the shipped checkpoints exported again give the bundled models' scores,
with the runtime's metadata and a card; bad checkpoints and missing torch exit 2."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from gabortag.cli.export import export_command  # noqa: E402
from gabortag.inference import Model, load_model  # noqa: E402
from gabortag.io.audio import load_audio  # noqa: E402
from gabortag.models import METADATA_KEYS, resolve, sha256_of  # noqa: E402

from _paths import REPO  # noqa: E402  # isort: skip

ROOT = REPO
DATA = ROOT / "tests" / "data"
VAD_PT = ROOT / "models" / "vad-gabor-16k.pt"
BIRD_PT = ROOT / "models" / "birdcalls-bengalese-finch.pt"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("export")(export_command)


@app.callback()
def _root() -> None:
    """Local app: registers only ``export``."""


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["export", *map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both shipped checkpoints exported through the CLI."""
    out = tmp_path_factory.mktemp("export")
    paths = {}
    for task, pt in (("vad", VAD_PT), ("birdcalls", BIRD_PT)):
        if not pt.is_file():
            pytest.skip(f"no shipped checkpoint {pt}")
        target = out / f"{task}-again.onnx"
        code, stdout, stderr = invoke(pt, "-o", target)
        assert code == 0, stderr
        summary = json.loads(stdout)
        assert summary["task"] == task and summary["model"] == str(target)
        assert summary["max_abs_diff_torch_vs_onnx"] < 1e-4
        paths[task] = target
    return paths


def test_vad_export_scores_like_the_bundled_model(exported: dict[str, Path]) -> None:
    bundled = load_model("vad", threads=1)
    again = Model(resolve(exported["vad"]), threads=1)
    wav, _ = load_audio(DATA / "speech_noise.flac", 16000)
    ref, got = bundled.score(wav), again.score(wav)
    assert got.shape == ref.shape and len(ref) > 400
    assert np.abs(got - ref).max() < 1e-4
    assert np.ptp(ref) > 0.5  # the clip has speech and noise: the comparison means something


def _chirps(seconds: float = 3.0, sr: int = 32000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.003 * np.random.default_rng(1).standard_normal(len(t))
    for k, start in enumerate([0.3, 0.8, 1.3, 1.9, 2.4]):
        m = (t >= start) & (t < start + 0.08)
        u = t[m] - start
        x[m] += 0.3 * np.sin(2 * np.pi * ((2000 + 500 * k) * u + 8000 * u**2)) * np.hanning(m.sum())
    return x.astype(np.float32)


def test_birdcalls_export_scores_like_the_bundled_model(exported: dict[str, Path]) -> None:
    bundled = load_model("birdcalls", threads=1)
    again = Model(resolve(exported["birdcalls"]), threads=1)
    wav = _chirps()
    ref, got = bundled.score(wav), again.score(wav)
    assert got.shape == ref.shape == (300, 10)
    assert np.abs(got - ref).max() < 1e-4
    assert (ref[:, 0] < 0.5).any() and (ref[:, 0] > 0.5).any()  # calls and background


@pytest.mark.parametrize("task", ["vad", "birdcalls"])
def test_metadata_is_the_release_metadata(exported: dict[str, Path], task: str) -> None:
    """Same metadata as the bundled file (the release scripts' functions made both), except
    the name (the output's stem) and the decision defaults (tuned at release only)."""
    path = exported[task]
    got = metadata(path)
    bundled = metadata(load_model(task).spec.path)
    assert set(METADATA_KEYS) - {"gabortag.postprocess"} <= set(got)
    assert "gabortag.postprocess" not in got
    assert got["gabortag.task"] == task and got["gabortag.name"] == path.stem
    ignore = {"gabortag.name", "gabortag.postprocess"}
    assert {k: v for k, v in got.items() if k not in ignore} == {
        k: v for k, v in bundled.items() if k not in ignore
    }
    info = Model(resolve(path), threads=1).info
    assert info.labels == load_model(task).info.labels and info.postprocess == {}


@pytest.mark.parametrize("task", ["vad", "birdcalls"])
def test_card_beside_the_onnx(exported: dict[str, Path], task: str) -> None:
    path = exported[task]
    card = json.loads(path.with_name(f"{path.stem}.card.json").read_text())
    bundled = load_model(task).card
    assert card["sha256"] == sha256_of(path) and card["size_bytes"] == path.stat().st_size
    assert card["task"] == task and card["file"] == path.name
    for key in ("parameters", "labels", "sample_rate", "hop_seconds", "architecture"):
        assert card[key] == bundled[key], key
    assert card["metrics"] is None and "measures nothing" in card["metrics_note"]
    pt = VAD_PT if task == "vad" else BIRD_PT
    assert card["source_checkpoint"]["sha256"] == sha256_of(pt)
    if task == "birdcalls":
        assert card["source_checkpoint"]["test_files"] == bundled["training"]["test_files"]
    # the runtime finds the card beside the file
    assert Model(resolve(path)).card == card


def test_existing_output_needs_force(exported: dict[str, Path]) -> None:
    target = exported["vad"]
    before = target.read_bytes()
    code, _, stderr = invoke(VAD_PT, "-o", target)
    assert code == 2 and "already exist" in stderr and "--force" in stderr
    assert target.read_bytes() == before
    code, _, stderr = invoke(VAD_PT, "-o", target, "--force", "--name", "vad-renamed")
    assert code == 0, stderr
    assert metadata(target)["gabortag.name"] == "vad-renamed"


def test_default_output_is_beside_the_checkpoint(tmp_path: Path) -> None:
    pt = tmp_path / "mine.pt"
    pt.write_bytes(VAD_PT.read_bytes())
    code, _, stderr = invoke(pt)
    assert code == 0, stderr
    assert (tmp_path / "mine.onnx").is_file() and (tmp_path / "mine.card.json").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x02garbage that is no pickle" * 10, "not a torch checkpoint"),
        (b"", "not a torch checkpoint"),
        ("dict", "lacks 'model' and 'config'"),
        ("list", "holds a list"),
        ("badconfig", "do not make a network"),
    ],
)
def test_bad_checkpoints_exit_2(tmp_path: Path, content: bytes | str, message: str) -> None:
    import torch

    pt = tmp_path / "bad.pt"
    if content == "dict":
        torch.save({"weights": 1}, pt)
    elif content == "list":
        torch.save([1, 2], pt)
    elif content == "badconfig":
        torch.save({"model": {}, "config": {"no_such_option": 1}}, pt)
    else:
        assert isinstance(content, bytes)
        pt.write_bytes(content)
    code, stdout, stderr = invoke(pt)
    assert code == 2
    assert message in stderr and str(pt) in stderr
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]  # nothing written


def test_output_must_be_onnx(tmp_path: Path) -> None:
    code, _, stderr = invoke(VAD_PT, "-o", tmp_path / "model.bin")
    assert code == 2 and "must end in .onnx" in stderr


def test_missing_torch_exits_2_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "torch" else real(name, *a, **k),
    )
    code, _, stderr = invoke(VAD_PT, "-o", tmp_path / "x.onnx")
    assert code == 2
    assert "torch missing" in stderr and "pip install 'gabortag[train]'" in stderr
    assert not (tmp_path / "x.onnx").exists()
