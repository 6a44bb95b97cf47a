"""Four-second training clips of the ``urban`` scene classifier, mono 16 kHz.

- UrbanSound8K's ten classes, from a folder ``fold<k>/<fsID>-<classID>-<occurrence>-<slice>.wav``
  (the class is the file name's second field, the fold its folder; no metadata table is
  needed). Clips shorter than the window are repeated to fill it, as ``gabortag scenes``
  fills a short window at inference.
- ``speech``, ``music``, ``birdsong``, ``background``: the training and held-out clips of the
  same classes of the ``scenes`` recipe (:func:`~.scenes_data.build_clips`), cut to 4 s.
- With ``esc10_background``, the ESC-10 clips of classes that are none of the urban labels
  (all but ``dog_bark``) from ESC-10 folds 1-4 become ``background`` training clips, so that
  sounds outside the label set are taught to come out as ``background`` rather than as a
  confident wrong class; ESC-10 fold 5 stays unseen, for out-of-domain measurements.

Every clip carries a fold (UrbanSound8K's; 0 for other sources) and a split (``train`` or
``heldout``); UrbanSound8K clips are ``train`` and their fold decides.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .scenes_data import CLASSES as SCENE_CLASSES
from .scenes_data import EXTRA_CLASSES, build_clips, esc10_rows
from .vad_data import load_16k

SR = 16000
WINDOW_S = 4.0
CLIP = int(WINDOW_S * SR)
URBAN_CLASSES = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)
CLASSES = URBAN_CLASSES + EXTRA_CLASSES
COMPLETE_FOLDS = (1, 2, 10)  # fold 3 is partial (387 of 925 clips)
TRAIN_FOLDS = (1, 2, 3)
TEST_FOLD = 10


def urban_class(path: Path) -> str:
    """The UrbanSound8K class of ``fsID-classID-occurrence-slice.wav``.

    Raises:
        ValueError: the name does not follow that pattern.
    """
    parts = path.stem.split("-")
    if len(parts) != 4 or not parts[1].isdigit() or int(parts[1]) >= len(URBAN_CLASSES):
        raise ValueError(f"{path}: not an UrbanSound8K file name (fsID-classID-occ-slice)")
    return URBAN_CLASSES[int(parts[1])]


def urban_files(root: Path, folds: tuple[int, ...] | None = None) -> list[tuple[Path, int]]:
    """The ``(path, fold)`` of every ``fold<k>/*.wav`` under ``root``, by fold then name."""
    out = []
    for fold_dir in sorted(root.glob("fold*"), key=lambda p: int(p.name[4:])):
        fold = int(fold_dir.name[4:])
        if folds is None or fold in folds:
            out += [(p, fold) for p in sorted(fold_dir.glob("*.wav"))]
    if not out:
        raise FileNotFoundError(f"{root}: no fold*/*.wav (UrbanSound8K audio folder)")
    return out


def fill(wav: np.ndarray, n: int = CLIP) -> np.ndarray:
    """``wav`` repeated (or cut) to exactly ``n`` samples; silence if it is empty."""
    if len(wav) == 0:
        return np.zeros(n, np.float32)
    return np.resize(wav, n).astype(np.float32)


def build_urban(
    urban_root: Path,
    data_dir: Path,
    extra_dir: Path | None,
    *,
    esc10_background: bool,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, np.ndarray]:
    """All clips: ``audio (n, CLIP)`` float32, ``label`` (index in :data:`CLASSES`), ``fold``,
    ``split``, ``source``."""
    rng = np.random.default_rng(seed)
    audio: list[np.ndarray] = []
    label: list[int] = []
    fold: list[int] = []
    split: list[str] = []
    source: list[str] = []

    def add(wav: np.ndarray, lab: str, k: int, s: str, src: str) -> None:
        audio.append(fill(wav))
        label.append(CLASSES.index(lab))
        fold.append(k)
        split.append(s)
        source.append(src)

    for path, k in urban_files(urban_root):
        add(load_16k(path), urban_class(path), k, "train", "urbansound8k")
    log(f"urbansound8k: {len(audio)} clips")
    extra = build_clips(data_dir, extra_dir, log=log)
    for wav, lab, s, src in zip(extra.audio, extra.label, extra.split, extra.source, strict=True):
        name = SCENE_CLASSES[lab]
        if name not in EXTRA_CLASSES:
            continue  # ESC-10 clips, below
        start = int(rng.integers(0, len(wav) - CLIP + 1))
        add(wav[start : start + CLIP], name, 0, s, src)
    if esc10_background:
        n = 0
        for row in esc10_rows(data_dir):
            if row["label"] == "dog_bark" or int(row["fold"]) == 5:
                continue
            wav = load_16k(data_dir / "esc10" / row["file"])
            start = int(rng.integers(0, max(1, len(wav) - CLIP + 1)))
            add(wav[start : start + CLIP], "background", 0, "train", f"esc10/{row['label']}")
            n += 1
        log(f"esc10 folds 1-4 as background: {n} clips")
    return {
        "audio": np.stack(audio),
        "label": np.array(label, np.int64),
        "fold": np.array(fold, np.int64),
        "split": np.array(split),
        "source": np.array(source),
    }
