"""The torch device of a training run, from the command line's ``cpu``, ``cuda`` or ``auto``."""

from __future__ import annotations

import torch

from ..errors import DeviceError
from ..runtime import DEVICES, check_device

__all__ = ["DEVICES", "torch_device"]


def torch_device(device: str) -> str:
    """``cpu`` or ``cuda``; ``auto`` picks CUDA when torch sees a GPU.

    Raises:
        ValueError: an unknown name, or ``cuda`` when torch sees no CUDA GPU.
    """
    device = check_device(device).value
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "device",
            f"{{device}} cuda, but torch {torch.__version__} sees no CUDA GPU; use {{device}} "
            "cpu, or install a CUDA build of torch",
        )
    return device
