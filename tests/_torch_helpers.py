"""Shared helpers for the torch tests (randomised parameters; the synthetic signals, from
``_signals``, are re-exported for them).

Import this only after ``pytest.importorskip("torch")`` in the test module.
"""

from __future__ import annotations

import torch
from torch import nn

from _signals import speech_like, stationary_noise  # isort: skip

__all__ = ["SR", "randomise_parameters", "speech_like", "stationary_noise"]

SR = 16000


def randomise_parameters(module: nn.Module, gen: torch.Generator) -> None:
    """Give every BatchNorm non-identity running statistics and affine parameters."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(1.0 + 0.3 * torch.randn(n, generator=gen))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen))
