"""Learnable 2-D Gabor filters (spectro-temporal receptive fields) over a log-mel spectrogram.

Riad et al. (2021), JASA 150(1), "Learning spectro-temporal representations of complex sounds
with parameterized neural networks", section II. Kernel ``k`` over mel-bin offset ``f`` and frame
offset ``t`` (centred unit grid, ``t = -(L_t-1)/2 ... (L_t-1)/2``)::

    g_k(t, f) = 1 / (2π σ_t σ_f) · exp(-½ (t²/σ_t² + f²/σ_f²)) · exp(j 2π F (t cos γ + f sin γ))

with exactly four learnable numbers per kernel: σ_t, σ_f (in grid steps, kept positive by a log
parametrisation), F (cycles per grid step, kept in (0, 0.5) below the grid's Nyquist rate by a
sigmoid) and γ (radians). Because the envelope is axis-aligned and the carrier a plane wave,
``g_k(t, f) = h_k(t) · v_k(f)`` with ``h_k(t) = N(t; σ_t) e^{j2π ω t}`` and
``v_k(f) = N(f; σ_f) e^{j2π Ω f}``, ``ω = F cos γ`` and ``Ω = F sin γ``; the layer evaluates the
2-D complex convolution exactly as a 1-D complex convolution along time followed by one along
mel bins.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from ...kernels.table import KernelRow
from ...melscale import bins_per_octave

Mode = Literal["real", "imag", "concat", "magnitude"]
MODES: tuple[str, ...] = ("real", "imag", "concat", "magnitude")


KernelUnits = KernelRow  # one kernel in physical units (see GaborConv2d.describe)


class GaborConv2d(nn.Module):
    """Bank of ``n_kernels`` complex Gabor kernels of ``kernel_size = (L_f, L_t)``.

    ``L_f`` counts mel bins and ``L_t`` frames.

    Input ``(B, 1, F, T)`` log-mel; output ``(B, C, F, T')`` with ``T' = (T - L_t) // stride + 1``
    (valid along time, so chunked input gives the same output as whole input) and ``F``
    preserved (zero padding along mel bins). ``C = 2K`` in ``concat`` mode (channels ``2k`` and
    ``2k+1`` are the real and imaginary responses of kernel ``k``), else ``K``.
    """

    grid_t: torch.Tensor  # (L_t,) frame offsets, centred
    grid_f: torch.Tensor  # (L_f,) mel-bin offsets, centred

    def __init__(
        self,
        n_kernels: int = 32,
        kernel_size: tuple[int, int] = (9, 31),
        mode: Mode = "concat",
        stride: int = 1,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        lf, lt = kernel_size
        if lf % 2 == 0 or lt % 2 == 0:
            raise ValueError(f"kernel_size must be odd in both axes, got {kernel_size}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.n_kernels = n_kernels
        self.kernel_size = (lf, lt)
        self.mode: Mode = mode
        self.stride = stride
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        u = lambda lo, hi: lo + (hi - lo) * torch.rand(n_kernels, generator=gen)  # noqa: E731
        # Initialisation of Riad et al.: γ ~ U(-π, π); F = (π/2)·1.41^-U(0,5) rad/step;
        # σ = 2·1.41^U(0,6) steps.
        gamma = u(-math.pi, math.pi)
        freq = (math.pi / 2) * 1.41 ** (-u(0, 5)) / (2 * math.pi)  # cycles per step, <= 0.25
        sigma_t = 2 * 1.41 ** u(0, 6)
        sigma_f = 2 * 1.41 ** u(0, 6)
        self.log_sigma_t = nn.Parameter(sigma_t.log())
        self.log_sigma_f = nn.Parameter(sigma_f.log())
        self.freq_logit = nn.Parameter(torch.logit(freq / 0.5))
        self.gamma = nn.Parameter(gamma)
        self.register_buffer("grid_t", torch.arange(lt, dtype=torch.float32) - (lt - 1) / 2)
        self.register_buffer("grid_f", torch.arange(lf, dtype=torch.float32) - (lf - 1) / 2)

    # --- parameters in interpretable form -------------------------------------------------
    @property
    def sigma_t(self) -> torch.Tensor:
        """Temporal envelope width, frames, shape ``(K,)``."""
        return self.log_sigma_t.exp()

    @property
    def sigma_f(self) -> torch.Tensor:
        """Spectral envelope width, mel bins, shape ``(K,)``."""
        return self.log_sigma_f.exp()

    @property
    def carrier(self) -> torch.Tensor:
        """Carrier frequency F, cycles per grid step, in (0, 0.5), shape ``(K,)``."""
        return 0.5 * torch.sigmoid(self.freq_logit)

    def modulations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ω, Ω): temporal (cycles/frame) and spectral (cycles/bin) modulation, each ``(K,)``."""
        f = self.carrier
        return f * torch.cos(self.gamma), f * torch.sin(self.gamma)

    # --- kernels -------------------------------------------------------------------------
    def factors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """1-D factors as real tensors (complex tensors do not export to ONNX), in one step.

        Returns ``(Re h, Im h, Re v, Im v)``: time factors ``(K, L_t)`` and frequency factors
        ``(K, L_f)``.
        """
        omega, big_omega = self.modulations()
        st, sf = self.sigma_t[:, None], self.sigma_f[:, None]
        t, f = self.grid_t[None, :], self.grid_f[None, :]
        env_t = torch.exp(-0.5 * (t / st) ** 2) / (math.sqrt(2 * math.pi) * st)
        env_f = torch.exp(-0.5 * (f / sf) ** 2) / (math.sqrt(2 * math.pi) * sf)
        ph_t = 2 * math.pi * omega[:, None] * t
        ph_f = 2 * math.pi * big_omega[:, None] * f
        return (
            env_t * torch.cos(ph_t),
            env_t * torch.sin(ph_t),
            env_f * torch.cos(ph_f),
            env_f * torch.sin(ph_f),
        )

    def kernels(self) -> torch.Tensor:
        """Full complex kernels ``(K, L_f, L_t)`` (rows: mel-bin offset, columns: frame offset)."""
        h_re, h_im, v_re, v_im = self.factors()
        h, v = torch.complex(h_re, h_im), torch.complex(v_re, v_im)
        return v[:, :, None] * h[:, None, :]

    def _combine(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        if self.mode == "real":
            return re
        if self.mode == "imag":
            return im
        if self.mode == "magnitude":
            return torch.sqrt(re * re + im * im + 1e-8)
        b, k, f, t = re.shape
        return torch.stack([re, im], dim=2).reshape(b, 2 * k, f, t)

    def frequency_matrices(self, n_bins: int) -> torch.Tensor:
        """The 1-D complex convolution over mel bins as banded real matrices ``(K, 2F, 2F)``.

        Row ``(o, f)`` / column ``(i, f')`` with ``o, i`` in (real, imag): the convolution with
        ``v = c + jd`` (zero padding at the band edges) maps ``a + jb`` to
        ``(a*c - b*d) + j(a*d + b*c)``, so the block matrix is ``[[C, -D], [D, C]]`` with
        ``C[f, f'] = c[f' - f + L_f // 2]`` inside the band, 0 outside.
        """
        _, _, c, d = self.factors()
        lf = self.kernel_size[0]
        bins = torch.arange(n_bins, device=c.device)
        offset = bins[None, :] - bins[:, None] + lf // 2  # (f_out, f_in)
        inside = ((offset >= 0) & (offset < lf)).to(c.dtype)
        index = offset.clamp(0, lf - 1)
        big_c, big_d = c[:, index] * inside, d[:, index] * inside  # (K, F, F)
        return torch.cat([torch.cat([big_c, -big_d], 2), torch.cat([big_d, big_c], 2)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's response; three exact implementations of the same arithmetic.

        In torch, one dense 2-D convolution with the full kernels (:meth:`forward_direct`):
        with one input channel it is the fastest on CPU, forwards and backwards (about 1.5×
        the separable grouped convolutions of :meth:`forward_grouped` for 16-32 kernels of
        9×25-9×31). When exporting, banded matrices over mel bins (:meth:`forward_banded`),
        fastest in onnxruntime. All three are tested equal.
        """
        if torch.onnx.is_in_onnx_export():
            return self.forward_banded(x)
        return self.forward_direct(x)

    def forward_grouped(self, x: torch.Tensor) -> torch.Tensor:
        """Time: ``Conv2d`` with ``(1, L_t)`` kernels; mel bins: grouped ``(L_f, 1)`` conv."""
        h_re, h_im, c, d = self.factors()
        k = self.n_kernels
        lf, lt = self.kernel_size
        # time: real input -> (a + jb) per kernel, channels interleaved [a_0, b_0, a_1, b_1, ...]
        w_t = torch.stack([h_re, h_im], dim=1).reshape(2 * k, 1, 1, lt)
        ab = nn.functional.conv2d(x, w_t, stride=(1, self.stride))
        # frequency: (a + jb)(c + jd) = (ac - bd) + j(ad + bc), a grouped conv with 2 in/2 out
        w_f = torch.stack([torch.stack([c, -d], 1), torch.stack([d, c], 1)], 1)  # (K, 2, 2, L_f)
        out = nn.functional.conv2d(ab, w_f.reshape(2 * k, 2, lf, 1), padding=(lf // 2, 0), groups=k)
        b, _, nf, nt = out.shape
        out = out.reshape(b, k, 2, nf, nt)
        return self._combine(out[:, :, 0], out[:, :, 1])

    def forward_banded(self, x: torch.Tensor) -> torch.Tensor:
        """Time: ``Conv1d`` over each mel row; mel bins: product with :meth:`frequency_matrices`."""
        h_re, h_im, _, _ = self.factors()
        k = self.n_kernels
        lt = self.kernel_size[1]
        b, _, nf, nt = x.shape
        w_t = torch.stack([h_re, h_im], dim=1).reshape(2 * k, 1, lt)
        ab = nn.functional.conv1d(x.reshape(b * nf, 1, nt), w_t, stride=self.stride)
        tp = ab.shape[-1]
        ab = ab.reshape(b, nf, k, 2, tp).permute(0, 2, 3, 1, 4).reshape(b, k, 2 * nf, tp)
        out = torch.matmul(self.frequency_matrices(nf), ab).reshape(b, k, 2, nf, tp)
        return self._combine(out[:, :, 0], out[:, :, 1])

    def forward_direct(self, x: torch.Tensor) -> torch.Tensor:
        """Direct 2-D convolution with the full complex kernels of :meth:`kernels`."""
        g = self.kernels()
        lf, _ = self.kernel_size
        w = torch.cat([g.real, g.imag], 0).unsqueeze(1)  # (2K, 1, L_f, L_t)
        out = nn.functional.conv2d(x, w, padding=(lf // 2, 0), stride=(1, self.stride))
        k = self.n_kernels
        return self._combine(out[:, :k], out[:, k:])

    @property
    def out_channels(self) -> int:
        return 2 * self.n_kernels if self.mode == "concat" else self.n_kernels

    # --- interpretation --------------------------------------------------------------------
    @torch.no_grad()
    def describe(
        self,
        frame_rate_hz: float,
        n_mels: int,
        f_min: float,
        f_max: float,
        reference_hz: float = 1000.0,
    ) -> list[KernelUnits]:
        """Every kernel in physical units.

        Temporal modulation (Hz) = ω cycles/frame × ``frame_rate_hz``; spectral modulation
        (cycles/octave) = Ω cycles/bin × mel bins per octave at ``reference_hz`` (the mel grid
        is not uniform in octaves, so one reference frequency is stated); widths: σ_t in ms,
        σ_f in octaves at the same reference.
        """
        bpo = bins_per_octave(reference_hz, n_mels, f_min, f_max)
        omega, big_omega = self.modulations()
        return [
            KernelUnits(
                index=i,
                temporal_modulation_hz=float(omega[i]) * frame_rate_hz,
                spectral_modulation_cyc_per_octave=float(big_omega[i]) * bpo,
                sigma_time_ms=float(self.sigma_t[i]) * 1000.0 / frame_rate_hz,
                sigma_freq_octaves=float(self.sigma_f[i]) / bpo,
                carrier_cycles_per_step=float(self.carrier[i]),
                orientation_rad=float(self.gamma[i]),
            )
            for i in range(self.n_kernels)
        ]
