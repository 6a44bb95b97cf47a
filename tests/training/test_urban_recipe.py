"""The ``urban`` recipe's data rules: UrbanSound8K names and folds, short clips repeated to fill
the window, and which clips train a network tested on a fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")

from gabortag.training.recipes.train_urban import noise_index, training_index
from gabortag.training.recipes.urban_data import (
    CLASSES,
    CLIP,
    fill,
    urban_class,
    urban_files,
)


def test_class_is_the_second_field_of_the_name() -> None:
    assert urban_class(Path("fold1/101415-3-0-2.wav")) == "dog_bark"
    assert urban_class(Path("fold10/7383-9-0-0.wav")) == "street_music"


@pytest.mark.parametrize("name", ["101415-3-0.wav", "1-x-0-2.wav", "1-10-0-2.wav", "a.wav"])
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="UrbanSound8K"):
        urban_class(Path(name))


def test_files_come_with_their_fold_in_numeric_order(tmp_path: Path) -> None:
    for fold, name in ((10, "1-0-0-0.wav"), (2, "2-1-0-0.wav"), (1, "3-2-0-0.wav")):
        (tmp_path / f"fold{fold}").mkdir()
        sf.write(str(tmp_path / f"fold{fold}" / name), np.zeros(10, np.float32), 16000)
    assert [k for _p, k in urban_files(tmp_path)] == [1, 2, 10]
    assert [k for _p, k in urban_files(tmp_path, (2, 10))] == [2, 10]
    with pytest.raises(FileNotFoundError):
        urban_files(tmp_path / "fold1")


def test_short_clips_are_repeated_to_the_window() -> None:
    wav = np.arange(5, dtype=np.float32)
    out = fill(wav, 12)
    assert out.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert fill(np.zeros(0, np.float32)).shape == (CLIP,)
    assert fill(np.ones(CLIP + 7, np.float32)).shape == (CLIP,)


def _data() -> dict[str, np.ndarray]:
    bg = CLASSES.index("background")
    rows = [
        ("urbansound8k", 0, 1, "train"),
        ("urbansound8k", 3, 2, "train"),
        ("urbansound8k", 8, 10, "train"),
        ("wesnoth", CLASSES.index("music"), 0, "train"),
        ("wesnoth", CLASSES.index("music"), 0, "heldout"),
        ("synthetic-room", bg, 0, "train"),
        ("speech_commands/_silence_", bg, 0, "train"),
        ("esc10/rain", bg, 0, "train"),
    ]
    return {
        "source": np.array([r[0] for r in rows]),
        "label": np.array([r[1] for r in rows]),
        "fold": np.array([r[2] for r in rows]),
        "split": np.array([r[3] for r in rows]),
    }


def test_the_test_fold_and_held_out_clips_never_train() -> None:
    data = _data()
    assert training_index(data, 10, "benchmark").tolist() == [0, 1, 3, 5]
    assert training_index(data, 1, "benchmark").tolist() == [1, 2, 3, 5]


def test_only_the_shipped_recipe_adds_esc10_as_background() -> None:
    assert training_index(_data(), 10, "shipped").tolist() == [0, 1, 3, 5, 7]
    with pytest.raises(ValueError, match="recipe"):
        training_index(_data(), 10, "other")


def test_noise_beds_are_the_background_recordings_not_esc10_sounds() -> None:
    assert noise_index(_data()).tolist() == [5, 6]
