"""``gabortag.kernels.table`` (kernels in physical units), ``gabortag.kernels.plots`` and
``gabortag filters``.

The table is checked against ``GaborConv2d.describe`` and the kernel images against
``GaborConv2d.kernels()`` (both need torch); the bundled models and the command need neither.
The command is exercised on a local Typer app that registers it, as the main app does.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from gabortag.cli.filters import filters
from gabortag.errors import ModelError
from gabortag.kernels.table import (
    ROW_FIELDS,
    GaborParams,
    Grid,
    describe,
    fold_modulation,
    kernel_images,
    kernels_of_model,
    load_kernel_table,
)

from _paths import REPO  # isort: skip

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("filters")(filters)

    @app.callback()
    def _root() -> None:
        """Test app: forces `filters` to be a subcommand."""

    return app


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(_app(), ["filters", *map(str, args)])


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    assert len(data) > 10_000, f"{path}: only {len(data)} bytes"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- against the torch layer -------------------------------------------------------------------


def _random_layer(seed: int, kernel_size: tuple[int, int] = (9, 31)) -> Any:
    torch = pytest.importorskip("torch")
    from gabortag.training.nets.gabor import GaborConv2d

    layer = GaborConv2d(12, kernel_size, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # move away from the initial values, any orientation
        layer.log_sigma_t.add_(0.3 * torch.randn(12, generator=gen))
        layer.log_sigma_f.add_(0.3 * torch.randn(12, generator=gen))
        layer.freq_logit.add_(torch.randn(12, generator=gen))
        layer.gamma.uniform_(-math.pi, math.pi, generator=gen)
    return layer


def _exact_params(layer: Any) -> GaborParams:
    return GaborParams(
        kernel_size=layer.kernel_size,
        sigma_t=tuple(layer.sigma_t.tolist()),
        sigma_f=tuple(layer.sigma_f.tolist()),
        carrier=tuple(layer.carrier.tolist()),
        gamma=tuple(layer.gamma.tolist()),
    )


@pytest.mark.parametrize(
    ("frame_rate", "n_mels", "f_min", "f_max", "reference"),
    [(100.0, 40, 60.0, 8000.0, 1000.0), (100.0, 64, 500.0, 12000.0, 3000.0)],
)
def test_table_equals_describe(
    frame_rate: float, n_mels: int, f_min: float, f_max: float, reference: float
) -> None:
    from gabortag.training.export import gabor_parameters

    layer = _random_layer(0)
    expected = layer.describe(frame_rate, n_mels, f_min, f_max, reference_hz=reference)
    params = GaborParams.from_dict(json.loads(json.dumps(gabor_parameters(layer))))
    got = describe(params, Grid(frame_rate, n_mels, f_min, f_max, reference))
    assert len(got) == len(expected) == 12
    for a, b in zip(got, expected, strict=True):
        assert a.index == b.index
        for name in ROW_FIELDS[1:]:  # metadata holds 6 decimals
            assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-4, abs=1e-4), name


def test_images_equal_layer_kernels() -> None:
    for seed, size in ((0, (9, 31)), (5, (7, 15))):
        layer = _random_layer(seed, size)
        expected = layer.kernels().real.detach().double().numpy()
        got = kernel_images(_exact_params(layer))
        assert got.shape == expected.shape == (12, *size)
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def test_images_accept_the_metadata_dict_and_a_kernel_size() -> None:
    params = GaborParams((3, 5), (2.0,), (1.5,), (0.1,), (0.3,))
    from_dict = kernel_images(params.to_dict(), kernel_size=(5, 9))
    assert from_dict.shape == (1, 5, 9)
    np.testing.assert_array_equal(from_dict[:, 1:4, 2:7], kernel_images(params))


def test_checkpoint_table_equals_describe_on_the_mel_grid(tmp_path: Path) -> None:
    """A .pt checkpoint: frame rate is sample_rate / mel_hop (the Gabor stride does not count)."""
    torch = pytest.importorskip("torch")
    from gabortag.training.nets.framenet import VadConfig, VadNet

    cfg = VadConfig(n_kernels=6, channels=8, dilations=(1,), gabor_stride=2)
    net = VadNet(cfg, seed=3)
    path = tmp_path / "run.pt"
    torch.save({"model": net.state_dict(), "config": cfg.to_dict(), "step": 1}, path)
    table = load_kernel_table(path)
    assert (table.name, table.task, table.grid.frame_rate_hz) == ("run", "vad", 100.0)
    expected = net.gabor.describe(100.0, cfg.n_mels, cfg.f_min, cfg.f_max)
    for a, b in zip(table.rows, expected, strict=True):
        for name in ROW_FIELDS[1:]:
            assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-6, abs=1e-9)


# --- the bundled models --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vad", "birdcalls"])
def test_bundled_models(name: str) -> None:
    rows, ctx = kernels_of_model(name)
    assert len(rows) == 32
    assert (ctx["model"], ctx["task"]) == (name, name)
    assert ctx["frame_rate_hz"] == 100.0  # 16000 / 160 and 32000 / 320
    assert ctx["reference_hz"] == 1000.0
    for r in rows:
        values = [getattr(r, n) for n in ROW_FIELDS]
        assert all(math.isfinite(v) for v in values), r
        assert abs(r.temporal_modulation_hz) <= ctx["frame_rate_hz"] / 2
        assert 0 < r.carrier_cycles_per_step < 0.5
        assert r.sigma_time_ms > 0 and r.sigma_freq_octaves > 0
    assert [r.index for r in rows] == list(range(32))


@pytest.mark.parametrize(
    ("name", "checkpoint"),
    [("vad", "vad-gabor-16k.pt"), ("birdcalls", "birdcalls-bengalese-finch.pt")],
)
def test_bundled_onnx_matches_its_checkpoint(name: str, checkpoint: str) -> None:
    pytest.importorskip("torch")
    path = REPO / "models" / checkpoint
    if not path.is_file():
        pytest.skip(f"{path} not in this checkout")
    from_onnx, from_pt = load_kernel_table(name), load_kernel_table(path)
    assert from_onnx.grid == from_pt.grid
    for a, b in zip(from_onnx.rows, from_pt.rows, strict=True):
        for field in ROW_FIELDS[1:]:
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-4, abs=1e-5)


def test_fold_modulation_and_sweep_direction() -> None:
    """Folded Ω < 0 is an upward sweep: the kernel's positive ridge rises over time."""
    f = math.hypot(0.1, 0.1)
    params = GaborParams((9, 9), (50.0,) * 2, (50.0,) * 2, (f, f), (-math.pi / 4, 3 * math.pi / 4))
    rows = describe(params, Grid(100.0, 40, 60.0, 8000.0))
    x, y = fold_modulation(rows)
    assert rows[0].temporal_modulation_hz > 0 > rows[1].temporal_modulation_hz
    np.testing.assert_allclose(x, [10.0, 10.0])
    assert y[0] < 0 and y[1] == pytest.approx(y[0])  # (ω, Ω) and (-ω, -Ω): one real kernel
    images = kernel_images(params)
    np.testing.assert_allclose(images[0], images[1], atol=1e-12)
    c = 4  # centre; rows are mel bins low to high, columns frames
    assert images[0, c + 2, c + 2] > 0.99 * images[0, c, c]  # ridge goes up with time
    assert images[0, c - 2, c + 2] < 0


# --- errors -------------------------------------------------------------------------------------


def _conv_checkpoint(tmp_path: Path) -> Path:
    torch = pytest.importorskip("torch")
    from gabortag.training.nets.framenet import VadConfig, VadNet

    cfg = VadConfig(first_layer="conv", n_kernels=2, channels=8, dilations=(1,))
    path = tmp_path / "conv.pt"
    torch.save({"model": VadNet(cfg).state_dict(), "config": cfg.to_dict()}, path)
    return path


def test_non_gabor_checkpoint_is_a_usage_error(tmp_path: Path) -> None:
    path = _conv_checkpoint(tmp_path)
    with pytest.raises(ModelError, match="first layer is 'conv'"):
        load_kernel_table(path)
    result = invoke(path, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "not a bank of Gabor kernels" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_non_gabor_onnx_is_a_usage_error(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from gabortag.training.export import export_onnx, json_meta
    from gabortag.training.nets.framenet import VadConfig, VadNet

    net = VadNet(VadConfig(first_layer="conv", n_kernels=2, channels=8, dilations=(1,)))
    path = tmp_path / "conv.onnx"
    meta = {"gabortag.task": "vad", "gabortag.config": json_meta(net.config.to_dict())}
    export_onnx(net, path, meta, net.receptive_field + 10 * net.hop)
    result = invoke(path, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "first layer is 'conv'" in result.stderr and str(path) in result.stderr


def test_unknown_model_and_bad_options_are_usage_errors(tmp_path: Path) -> None:
    result = invoke("no-such-model", "-o", tmp_path)
    assert result.exit_code == 2 and "unknown model 'no-such-model'" in result.stderr
    result = invoke(tmp_path / "missing.pt", "-o", tmp_path)
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = invoke("--compare", "vad", "-o", tmp_path)
    assert result.exit_code == 2 and "at least two models" in result.stderr
    result = invoke("vad", "-f", "xml", "-o", tmp_path)
    assert result.exit_code == 2 and "unknown table format 'xml'" in result.stderr


def test_checkpoint_without_torch_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    result = invoke(path, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "needs torch: pip install 'gabortag[train]'" in result.stderr


def test_initial_values_only_when_stored(tmp_path: Path) -> None:
    result = invoke("vad", "--initial", "-o", tmp_path / "a")
    assert result.exit_code == 2 and "does not store its initial Gabor values" in result.stderr

    torch = pytest.importorskip("torch")
    from gabortag.training.export import gabor_parameters
    from gabortag.training.nets.framenet import VadConfig, VadNet

    cfg = VadConfig(n_kernels=4, channels=8, dilations=(1,))
    net = VadNet(cfg, seed=1)
    start = gabor_parameters(net.gabor)
    with torch.no_grad():
        net.gabor.gamma.add_(0.3)
    path = tmp_path / "trained.pt"
    torch.save({"model": net.state_dict(), "config": cfg.to_dict(), "gabor_initial": start}, path)
    result = invoke(path, "--initial", "-o", tmp_path / "b")
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "b" / "trained-kernels.csv")
    assert len(rows) == 4 and "initial_orientation_rad" in rows[0]
    for row, gamma in zip(rows, start["gamma"], strict=True):
        assert float(row["initial_orientation_rad"]) == pytest.approx(gamma, abs=1e-5)
        assert float(row["orientation_rad"]) == pytest.approx(gamma + 0.3, abs=1e-5)
    assert_png(tmp_path / "b" / "trained-modulation.png")
    doc = json.loads((tmp_path / "b" / "trained-kernels.json").read_text())
    assert len(doc["initial"]) == 4 and doc["initial_parameters"]["gamma"] == start["gamma"]


# --- the command ----------------------------------------------------------------------------------


def test_command_writes_figures_and_tables(tmp_path: Path) -> None:
    out = tmp_path / "figs"
    result = invoke("vad", "-o", out)
    assert result.exit_code == 0, result.output
    names = ["vad-kernels.csv", "vad-kernels.json", "vad-kernels.png", "vad-modulation.png"]
    assert result.stdout.split() == [str(out / n) for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert_png(out / "vad-kernels.png")
    assert_png(out / "vad-modulation.png")
    rows = read_csv(out / "vad-kernels.csv")
    assert list(rows[0]) == list(ROW_FIELDS) and len(rows) == 32
    expected, _ = kernels_of_model("vad")
    for row, want in zip(rows, expected, strict=True):
        assert int(row["index"]) == want.index
        for name in ROW_FIELDS[1:]:
            assert float(row[name]) == pytest.approx(getattr(want, name), rel=1e-5, abs=1e-9)
    doc = json.loads((out / "vad-kernels.json").read_text())
    assert doc["schema_version"] == "1.0" and doc["model"] == "vad" and doc["task"] == "vad"
    assert doc["frame_rate_hz"] == 100.0 and len(doc["kernels"]) == 32 and doc["initial"] is None


def test_compare_writes_one_modulation_plot(tmp_path: Path) -> None:
    result = invoke("--compare", "vad", "birdcalls", "-o", tmp_path, "-f", "json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "birdcalls-kernels.json",
        "birdcalls-kernels.png",
        "modulation-compare.png",
        "vad-kernels.json",
        "vad-kernels.png",
    ]
    assert_png(tmp_path / "modulation-compare.png")


def test_tables_only_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = invoke("--compare", "birdcalls", "vad", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    assert "pip install 'gabortag[plot]'" in result.stderr
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".csv", ".csv", ".json", ".json"]
    assert len(read_csv(tmp_path / "birdcalls-kernels.csv")) == 32


def test_no_plots_flag(tmp_path: Path) -> None:
    result = invoke("birdcalls", "--no-plots", "-f", "csv", "-o", tmp_path)
    assert result.exit_code == 0 and result.stderr == ""
    assert [p.name for p in tmp_path.iterdir()] == ["birdcalls-kernels.csv"]


def test_plot_functions_directly(tmp_path: Path) -> None:
    from gabortag.kernels.plots import plot_kernels, plot_modulation

    rows, _ = kernels_of_model("birdcalls")
    plot_modulation([("birdcalls", rows)], tmp_path / "m.png", fold=False, nyquist_hz=20.0)
    plot_kernels(kernel_images(load_kernel_table("vad").params)[:5], tmp_path / "k.png", "five")
    assert_png(tmp_path / "m.png")
    assert_png(tmp_path / "k.png")
    with pytest.raises(ValueError, match="labels"):
        plot_kernels(np.zeros((2, 3, 3)), tmp_path / "x.png", "t", labels=["a"])


def test_importing_the_modules_loads_neither_torch_nor_matplotlib() -> None:
    code = (
        "import sys, gabortag.kernels.table, gabortag.kernels.plots, gabortag.cli.filters; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
