"""GaborConv2d against the paper's formula, its separable evaluation, parameters and units."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gabortag.melscale import bins_per_octave  # noqa: E402
from gabortag.training.nets.gabor import MODES, GaborConv2d  # noqa: E402

PARAM_NAMES = {"log_sigma_t", "log_sigma_f", "freq_logit", "gamma"}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def randomise(layer: GaborConv2d, seed: int) -> None:
    """Random (non-initial) parameters: widths 0.7-6 steps, any carrier, any orientation."""
    gen = torch.Generator().manual_seed(seed)
    k = layer.n_kernels
    with torch.no_grad():
        layer.log_sigma_t.copy_(
            torch.empty(k).uniform_(math.log(0.7), math.log(6.0), generator=gen)
        )
        layer.log_sigma_f.copy_(
            torch.empty(k).uniform_(math.log(0.7), math.log(6.0), generator=gen)
        )
        layer.freq_logit.copy_(torch.empty(k).uniform_(-4.0, 4.0, generator=gen))
        layer.gamma.copy_(torch.empty(k).uniform_(-math.pi, math.pi, generator=gen))


def paper_kernels(
    sigma_t: np.ndarray,
    sigma_f: np.ndarray,
    carrier: np.ndarray,
    gamma: np.ndarray,
    lf: int,
    lt: int,
) -> np.ndarray:
    """g(t, f) of Riad et al. in float64 on the centred unit grid; ``(K, L_f, L_t)`` complex."""
    t = np.arange(lt, dtype=np.float64) - (lt - 1) / 2
    f = np.arange(lf, dtype=np.float64) - (lf - 1) / 2
    out = np.empty((len(sigma_t), lf, lt), np.complex128)
    for k in range(len(sigma_t)):
        st, sf, big_f, g = (float(v[k]) for v in (sigma_t, sigma_f, carrier, gamma))
        tt, ff = np.meshgrid(t, f)  # rows: f, columns: t
        env = np.exp(-0.5 * (tt**2 / st**2 + ff**2 / sf**2)) / (2 * np.pi * st * sf)
        carrier_wave = np.exp(1j * 2 * np.pi * big_f * (tt * np.cos(g) + ff * np.sin(g)))
        out[k] = env * carrier_wave
    return out


def as_numpy(v: torch.Tensor) -> np.ndarray:
    return v.detach().double().numpy()


@pytest.mark.parametrize("kernel_size", [(9, 31), (3, 5), (7, 1), (1, 11), (5, 5), (11, 3)])
@pytest.mark.parametrize("seed", [None, 3])
def test_kernels_match_paper_formula(kernel_size: tuple[int, int], seed: int | None) -> None:
    layer = GaborConv2d(6, kernel_size, seed=0)
    if seed is not None:
        randomise(layer, seed)
    got = layer.kernels().detach().numpy()
    lf, lt = kernel_size
    assert got.shape == (6, lf, lt)
    want = paper_kernels(
        as_numpy(layer.sigma_t),
        as_numpy(layer.sigma_f),
        as_numpy(layer.carrier),
        as_numpy(layer.gamma),
        lf,
        lt,
    )
    assert np.abs(got - want).max() < 1e-6
    # the parametrisation itself: sigma = exp(log sigma), F = 0.5 sigmoid(logit)
    np.testing.assert_allclose(
        as_numpy(layer.sigma_t), np.exp(as_numpy(layer.log_sigma_t)), rtol=1e-6
    )
    np.testing.assert_allclose(
        as_numpy(layer.carrier), 0.5 / (1 + np.exp(-as_numpy(layer.freq_logit))), rtol=1e-6
    )


def test_kernel_centre_and_symmetry() -> None:
    """The grid is centred: the envelope peaks in the middle and g(-t, -f) = conj g(t, f)."""
    layer = GaborConv2d(4, (7, 15), seed=1)
    g = layer.kernels().detach().numpy()
    np.testing.assert_allclose(g[:, ::-1, ::-1], np.conj(g), atol=1e-7)
    centre = np.abs(g[:, 3, 7])
    assert np.all(centre >= np.abs(g).reshape(4, -1).max(axis=1) - 1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", [(3, 17, 45), (2, 9, 31), (2, 13, 60)])
def test_separable_equals_direct(mode: str, stride: int, shape: tuple[int, int, int]) -> None:
    batch, n_freq, n_time = shape
    layer = GaborConv2d(5, (9, 31), mode=mode, stride=stride, seed=0)  # type: ignore[arg-type]
    randomise(layer, 11)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(batch, 1, n_freq, n_time, generator=gen)
    with torch.no_grad():
        direct = layer(x)
        torch.testing.assert_close(direct, layer.forward_direct(x))
        for separable in (layer.forward_grouped(x), layer.forward_banded(x)):
            assert separable.shape == direct.shape
            assert (separable - direct).abs().max().item() < 1e-5
    assert direct.shape == (batch, layer.out_channels, n_freq, (n_time - 31) // stride + 1)
    assert torch.all(torch.isfinite(direct))


def test_concat_channels_interleave_real_and_imag() -> None:
    x = torch.randn(2, 1, 11, 40, generator=torch.Generator().manual_seed(0))
    layers = {m: GaborConv2d(3, (5, 9), mode=m, seed=2) for m in MODES}  # type: ignore[arg-type]
    with torch.no_grad():
        out = {m: layer(x) for m, layer in layers.items()}
    torch.testing.assert_close(out["concat"][:, 0::2], out["real"])
    torch.testing.assert_close(out["concat"][:, 1::2], out["imag"])
    mag = torch.sqrt(out["real"] ** 2 + out["imag"] ** 2 + 1e-8)
    torch.testing.assert_close(out["magnitude"], mag)


@pytest.mark.parametrize("n_kernels", [1, 4, 32, 64])
@pytest.mark.parametrize("mode", ["concat", "magnitude"])
def test_exactly_four_parameters_per_kernel(n_kernels: int, mode: str) -> None:
    layer = GaborConv2d(n_kernels, (9, 111), mode=mode)  # type: ignore[arg-type]
    assert sum(p.numel() for p in layer.parameters()) == 4 * n_kernels
    names = {name for name, _ in layer.named_parameters()}
    assert names == PARAM_NAMES
    for p in layer.parameters():
        assert p.shape == (n_kernels,)
    # the grids are buffers, not learnable
    assert {name for name, _ in layer.named_buffers()} == {"grid_t", "grid_f"}


def test_widths_and_carrier_stay_in_range_for_extreme_raw_values() -> None:
    layer = GaborConv2d(6, (9, 31), seed=0)
    with torch.no_grad():
        layer.log_sigma_t.copy_(torch.tensor([-20.0, -5.0, 0.0, 5.0, 20.0, 40.0]))
        layer.log_sigma_f.copy_(torch.tensor([40.0, 20.0, 5.0, 0.0, -5.0, -20.0]))
        layer.freq_logit.copy_(torch.tensor([-15.0, -8.0, -1.0, 1.0, 8.0, 15.0]))
        layer.gamma.copy_(torch.tensor([-100.0, -7.0, 0.0, 3.0, 50.0, 1e4]))
    assert torch.all(layer.sigma_t > 0) and torch.all(torch.isfinite(layer.sigma_t))
    assert torch.all(layer.sigma_f > 0) and torch.all(torch.isfinite(layer.sigma_f))
    assert torch.all(layer.carrier > 0) and torch.all(layer.carrier < 0.5)
    assert torch.all(torch.isfinite(layer.kernels().real))
    assert torch.all(torch.isfinite(layer.kernels().imag))
    # float32 sigmoid saturates beyond |logit| ~ 17: the carrier then sits *on* the bounds,
    # never outside them (and its gradient vanishes, so training cannot push it there).
    with torch.no_grad():
        layer.freq_logit.copy_(torch.tensor([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4]))
    assert torch.all(layer.carrier >= 0) and torch.all(layer.carrier <= 0.5)


def test_gradients_reach_all_four_parameters() -> None:
    for mode in MODES:
        layer = GaborConv2d(4, (7, 15), mode=mode, stride=2, seed=3)  # type: ignore[arg-type]
        randomise(layer, 4)
        x = torch.randn(2, 1, 12, 50, generator=torch.Generator().manual_seed(1))
        target = torch.randn(layer(x).shape, generator=torch.Generator().manual_seed(2))
        loss = ((layer(x) - target) ** 2).mean()
        loss.backward()
        for name, p in layer.named_parameters():
            assert p.grad is not None, (mode, name)
            assert torch.all(torch.isfinite(p.grad)), (mode, name)
            assert p.grad.abs().sum().item() > 0, (mode, name)
            # every kernel gets its own non-zero gradient
            assert torch.count_nonzero(p.grad).item() == 4, (mode, name)


@pytest.mark.parametrize("kernel_size", [(8, 31), (9, 30), (2, 2)])
def test_even_kernel_size_rejected(kernel_size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="odd"):
        GaborConv2d(4, kernel_size)


@pytest.mark.parametrize("mode", ["complex", "REAL", "", "abs"])
def test_unknown_mode_rejected(mode: str) -> None:
    with pytest.raises(ValueError, match="mode"):
        GaborConv2d(4, (9, 31), mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("frame_rate", [100.0, 50.0])
def test_describe_physical_units(frame_rate: float) -> None:
    n_mels, f_min, f_max = 40, 60.0, 8000.0
    layer = GaborConv2d(3, (9, 31), seed=0)
    with torch.no_grad():
        layer.gamma.copy_(torch.tensor([0.0, math.pi / 2, math.pi / 4]))
        layer.freq_logit.copy_(torch.tensor([-1.0, 0.5, 0.0]))
        layer.log_sigma_t.copy_(torch.tensor([1.0, 2.0, 1.0]).log())
        layer.log_sigma_f.copy_(torch.tensor([3.0, 1.5, 2.0]).log())
    carrier = layer.carrier.detach().double().numpy()
    units = layer.describe(frame_rate, n_mels, f_min, f_max)
    bpo = bins_per_octave(1000.0, n_mels, f_min, f_max)
    assert [u.index for u in units] == [0, 1, 2]
    # gamma = 0: pure temporal modulation
    assert units[0].temporal_modulation_hz == pytest.approx(carrier[0] * frame_rate, rel=1e-6)
    assert units[0].spectral_modulation_cyc_per_octave == 0.0
    # gamma = pi/2: pure spectral modulation
    assert abs(units[1].temporal_modulation_hz) < 1e-5
    assert units[1].spectral_modulation_cyc_per_octave == pytest.approx(carrier[1] * bpo, rel=1e-6)
    # gamma = pi/4: both, equal in cycles per step
    assert units[2].temporal_modulation_hz == pytest.approx(
        carrier[2] * math.sqrt(0.5) * frame_rate, rel=1e-5
    )
    for u, st, sf in zip(units, (1.0, 2.0, 1.0), (3.0, 1.5, 2.0), strict=True):
        assert u.sigma_time_ms == pytest.approx(st * 1000.0 / frame_rate, rel=1e-6)
        assert u.sigma_freq_octaves == pytest.approx(sf / bpo, rel=1e-6)
        assert 0 < u.carrier_cycles_per_step < 0.5
    assert units[1].orientation_rad == pytest.approx(math.pi / 2, rel=1e-6)
    # another reference frequency changes only the spectral units
    hi = layer.describe(frame_rate, n_mels, f_min, f_max, reference_hz=4000.0)
    ratio = bins_per_octave(4000.0, n_mels, f_min, f_max) / bpo
    assert hi[1].spectral_modulation_cyc_per_octave == pytest.approx(
        units[1].spectral_modulation_cyc_per_octave * ratio, rel=1e-6
    )
    assert hi[0].temporal_modulation_hz == units[0].temporal_modulation_hz


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("n_time", [31, 32, 33, 64, 100])
@pytest.mark.parametrize("n_freq", [1, 9, 40])
def test_output_length_valid_in_time_same_in_frequency(
    stride: int, n_time: int, n_freq: int
) -> None:
    layer = GaborConv2d(2, (9, 31), mode="real", stride=stride, seed=0)
    with torch.no_grad():
        out = layer(torch.zeros(1, 1, n_freq, n_time))
    assert out.shape == (1, 2, n_freq, (n_time - 31) // stride + 1)


def test_time_chunks_equal_whole() -> None:
    """Valid in time: output frames of overlapping input chunks equal the whole-input frames."""
    layer = GaborConv2d(3, (5, 11), mode="concat", stride=2, seed=0)
    x = torch.randn(1, 1, 8, 101, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = layer(x)
        first = layer(x[..., : 11 + 2 * 19])  # frames 0..19
        second = layer(x[..., 2 * 20 :])  # frames 20..
    torch.testing.assert_close(torch.cat([first, second], dim=-1), whole)
