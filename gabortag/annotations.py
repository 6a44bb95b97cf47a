"""Reading reference annotations: RTTM speaker turns and UEM scored regions (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_rttm(path: Path) -> dict[str, list[tuple[float, float]]]:
    """RTTM ``SPEAKER`` lines → {file id: [(onset s, offset s), ...]} in file order."""
    turns: dict[str, list[tuple[float, float]]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "SPEAKER":
            onset, dur = float(parts[3]), float(parts[4])
            turns.setdefault(parts[1], []).append((onset, onset + dur))
    return turns


def read_uem(path: Path) -> dict[str, list[tuple[float, float]]]:
    """UEM lines ``file channel start end`` → {file id: [(start s, end s), ...]}."""
    regions: dict[str, list[tuple[float, float]]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and not line.startswith(";"):
            regions.setdefault(parts[0], []).append((float(parts[2]), float(parts[3])))
    return regions


def intervals_to_mask(
    intervals: list[tuple[float, float]], n_frames: int, frame_s: float = 0.01
) -> np.ndarray:
    """Union of intervals as a frame mask ``(n_frames,)``: frame ``i`` is True if its centre
    ``(i + 0.5) · frame_s`` seconds lies inside one interval ``[onset, offset)``."""
    centres = (np.arange(n_frames) + 0.5) * frame_s
    mask = np.zeros(n_frames, dtype=bool)
    for on, off in intervals:
        mask |= (centres >= on) & (centres < off)
    return mask
