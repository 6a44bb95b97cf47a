"""Training-side pieces: energy speech masks, VadNet frame geometry, a tiny training run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _torch_helpers import speech_like, stationary_noise  # noqa: E402

from gabortag.training.nets.framenet import VadConfig, VadNet  # noqa: E402
from gabortag.training.recipes.labels import (  # noqa: E402
    FRAME,
    close_gaps,
    drop_short,
    energy_speech_mask,
)
from gabortag.training.recipes.train_vad import batch, frame_probabilities, mel_statistics  # noqa: E402

SR = 16000
TINY = VadConfig(
    n_mels=16,
    freq_pool=4,
    n_kernels=4,
    kernel_size=(5, 11),
    gabor_stride=2,
    channels=8,
    dilations=(1, 2),
    tcn_kernel=3,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


# ----------------------------------------------------------------------------- energy masks


def tone(seconds: float, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * math.pi * hz * t)).astype(np.float32)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


@pytest.mark.parametrize("floor_rms", [0.0, 1e-4])
def test_energy_mask_tone_burst(floor_rms: float) -> None:
    rng = np.random.default_rng(0)
    wav = np.concatenate([np.zeros(SR, np.float32), tone(0.5), np.zeros(SR + 37, np.float32)])
    wav = wav + (floor_rms * rng.standard_normal(len(wav))).astype(np.float32)
    mask = energy_speech_mask(wav)
    assert mask is not None
    assert mask.dtype == bool and mask.shape == (-(-len(wav) // FRAME),)
    (start, end), *others = runs(mask)
    assert not others
    # burst is frames [100, 150) at 10 ms; allow +-50 ms (window spread + 20 ms widening)
    assert abs(start - 100) <= 5 and abs(end - 150) <= 5
    assert mask[100:150].all()


def test_energy_mask_all_zero_and_short() -> None:
    assert energy_speech_mask(np.zeros(3 * SR, np.float32)) is None
    assert energy_speech_mask(np.zeros(0, np.float32)) is None
    assert energy_speech_mask(tone(0.02)) is None  # fewer than 400 samples


def test_energy_mask_stationary_noise_is_not_speech() -> None:
    # peak - floor of stationary noise stays well below the 10 dB rule
    rng = np.random.default_rng(1)
    for level in (1e-3, 0.1, 0.5):
        assert energy_speech_mask((level * rng.standard_normal(3 * SR)).astype(np.float32)) is None
    assert energy_speech_mask(tone(3.0)) is None  # a constant tone is stationary too


def test_energy_mask_fills_short_pauses_only() -> None:
    # the model's speech frame: pauses under 120 ms are inside the utterance, longer ones not
    gap_short = np.zeros(int(0.08 * SR), np.float32)
    gap_long = np.zeros(int(0.2 * SR), np.float32)
    lead = np.zeros(SR // 2, np.float32)
    short = energy_speech_mask(np.concatenate([lead, tone(0.3), gap_short, tone(0.3), lead]))
    long_ = energy_speech_mask(np.concatenate([lead, tone(0.3), gap_long, tone(0.3), lead]))
    assert short is not None and long_ is not None
    assert len(runs(short)) == 1  # an 80 ms pause is inside the utterance
    assert len(runs(long_)) == 2
    # a 10 ms click alone is dropped (islands < 50 ms, measured on 25 ms energy windows, so
    # a 30 ms click already spans 5 frames and is kept): the clip gives no mask
    click = np.concatenate([lead, tone(0.01), lead])
    assert energy_speech_mask(click) is None


def test_close_gaps_and_drop_short() -> None:
    m = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0], bool)
    np.testing.assert_array_equal(close_gaps(m, 2), [0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(close_gaps(m, 3), [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(drop_short(m, 2), [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    assert not close_gaps(np.zeros(5, bool), 3).any()


# ----------------------------------------------------------------------------- VadNet geometry


@pytest.mark.parametrize("cfg", [TINY, VadConfig()], ids=["tiny", "default"])
def test_receptive_field_and_centring(cfg: VadConfig) -> None:
    """Output j depends exactly on padded samples [j*hop, j*hop + receptive_field)."""
    net = VadNet(cfg, seed=0).eval()
    rf, hop = net.receptive_field, net.hop
    n_out = 5
    n = rf + (n_out - 1) * hop + 123  # extra samples that must not add a frame
    x = (0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(0))).requires_grad_()
    y = net(x)
    assert y.shape == (1, net.n_outputs(n)) == (1, n_out)
    j = 2
    (grad,) = torch.autograd.grad(y[0, j], x)
    nz = torch.nonzero(grad[0]).flatten()
    # first sample of each frame has Hann weight 0, so support starts within one mel hop
    assert j * hop <= nz.min().item() <= j * hop + cfg.mel_hop
    assert nz.max().item() == j * hop + rf - 1
    # centred: left_pad puts the centre of that window in the middle of [j*hop, (j+1)*hop)
    centre = (j * hop + j * hop + rf) / 2 - net.left_pad
    assert abs(centre - (j * hop + hop / 2)) <= 0.5
    assert net.n_outputs(rf - 1) == 0 and net.n_outputs(rf) == 1


# ----------------------------------------------------------------------------- tiny training run


class SyntheticSampler:
    """Like MixtureSampler: ``(audio, 10 ms mask)`` of ``n // 160`` frames, exact labels.

    Non-speech is stationary coloured noise at a random level; speech is a 4 Hz amplitude-
    modulated harmonic complex added on top, in 10 ms-aligned segments of 0.3-0.9 s.
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        n_frames = n // FRAME
        x = stationary_noise(n_frames * FRAME, rng, rms=float(rng.uniform(0.005, 0.05)))
        mask = np.zeros(n_frames, bool)
        pos = int(rng.integers(-30, 40))
        while pos < n_frames:
            length = int(rng.integers(30, 90))
            lo, hi = max(pos, 0), min(pos + length, n_frames)
            if hi > lo:
                seg = speech_like(length * FRAME / SR, rng) * float(rng.uniform(0.3, 1.0))
                x[lo * FRAME : hi * FRAME] += seg[(lo - pos) * FRAME : (hi - pos) * FRAME]
                mask[lo:hi] = True
            pos += length + int(rng.integers(30, 90))
        return x, mask


def test_tiny_training_learns_synthetic_speech() -> None:
    torch.manual_seed(0)
    sampler = SyntheticSampler(seed=0)
    net = VadNet(TINY, seed=0)
    assert TINY.n_mels % TINY.freq_pool == 0
    mel_statistics(net, sampler, 20)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gabor_before = [p.detach().clone() for p in net.gabor.parameters()]
    losses = []
    net.train()
    for _ in range(30):
        x, y = batch(net, sampler, 8, 50)
        assert x.shape == (8, net.receptive_field + 49 * net.hop) and y.shape == (8, 50)
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    assert last < 0.6 * first, losses
    # the Gabor parameters took part in learning
    assert any(
        not torch.equal(a, b) for a, b in zip(gabor_before, net.gabor.parameters(), strict=True)
    )
    # BatchNorm running averages lag 30 fast Adam steps (they mix statistics of much earlier
    # weights), so re-estimate them with the final weights, as one would before export
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    with torch.no_grad():
        for _ in range(10):
            net(batch(net, sampler, 8, 50)[0])
    # a fresh example, scored like the runtime does (zero padding), frame accuracy
    net.eval()
    wav, mask10 = SyntheticSampler(seed=123)(6 * SR)
    probs = frame_probabilities(net, wav)
    ratio = net.hop // FRAME
    assert len(probs) == -(-len(wav) // net.hop)
    truth = mask10[: len(probs) * ratio].reshape(-1, ratio).mean(axis=1) >= 0.5
    accuracy = float(np.mean((probs >= 0.5) == truth))
    assert 0.2 < truth.mean() < 0.8  # both classes present
    assert accuracy > 0.8, accuracy


def test_resume_point_restores_weights_optimiser_schedule_and_rng(tmp_path: Path) -> None:
    from gabortag.training.optim import load_resumable, save_resumable

    def parts() -> tuple[Any, Any, Any, np.random.Generator]:
        net = torch.nn.Linear(3, 2)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=10)
        return net, opt, sched, np.random.default_rng(0)

    net, opt, sched, rng = parts()
    for _ in range(3):
        net(torch.randn(4, 3)).sum().backward()
        opt.step()
        sched.step()
    rng.random(5)
    save_resumable(tmp_path / "last.pt", net, opt, sched, rng, epoch=3, best=0.5)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    net2, opt2, sched2, rng2 = parts()
    ck = load_resumable(tmp_path / "last.pt", net2, opt2, sched2, rng2)
    assert (ck["epoch"], ck["best"]) == (3, 0.5)
    for a, b in zip(net.parameters(), net2.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert sched2.state_dict()["last_epoch"] == 3
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert rng2.random() == rng.random()


def test_noise_floor_features_ignore_level_and_stationary_noise() -> None:
    # Above its local per-band floor, a recording's features do not change with its gain, and a
    # stationary noise bed alone comes out near zero: the level dependence the global
    # normalisation had is gone.
    from gabortag.training.nets.framenet import NoiseFloor

    rng = np.random.default_rng(3)
    floor = NoiseFloor(smooth=21, window=151, floor_min=-30.0)
    frontend = VadNet(TINY).frontend
    x = (0.01 * rng.standard_normal(4 * SR)).astype(np.float32)
    x[SR : 2 * SR] += 0.2 * np.sin(2 * np.pi * 300 * np.arange(SR) / SR).astype(np.float32)
    with torch.no_grad():
        base = floor(frontend(torch.from_numpy(x)[None]))
        louder = floor(frontend(torch.from_numpy(x * 10)[None]))
        bed = floor(frontend(torch.from_numpy(0.01 * rng.standard_normal(4 * SR))[None].float()))
    assert torch.allclose(base, louder, atol=1e-3)
    assert base.max() > 5.0  # the tone rises far above the floor
    assert bed.abs().median() < 1.0
