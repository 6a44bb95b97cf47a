"""One optimisation step, shared by the training recipes."""

from __future__ import annotations

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
