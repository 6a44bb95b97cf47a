"""One optimisation step and resume points, shared by the training recipes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

CLIP_NORM = 5.0


def optimiser_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    loss: torch.Tensor,
) -> float:
    """Back-propagate ``loss``, clip the gradient norm to :data:`CLIP_NORM`, step the optimiser
    and the schedule; returns the loss value."""
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), CLIP_NORM)
    opt.step()
    sched.step()
    return float(loss.detach())


def save_resumable(
    path: Path,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator,
    **fields: Any,
) -> None:
    """Write a resume point to ``path`` (through a temporary file, renamed): the weights as
    CPU tensors, the optimiser, the schedule, the numpy ``rng`` state, and ``fields``."""
    weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    state = {
        "model": weights,
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "rng": rng.bit_generator.state,
        **fields,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_resumable(
    path: Path,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    rng: np.random.Generator,
    device: str = "cpu",
) -> dict[str, Any]:
    """Restore what :func:`save_resumable` wrote into ``net``, ``opt``, ``sched`` and ``rng``
    (tensors onto ``device``); returns the whole checkpoint, for the caller's own fields."""
    ck: dict[str, Any] = torch.load(path, weights_only=True, map_location=device)
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    sched.load_state_dict(ck["sched"])
    rng.bit_generator.state = ck["rng"]
    return ck
