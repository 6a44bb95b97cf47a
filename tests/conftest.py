"""Fixtures shared by test modules: ``bird_model``, a bird-call model (see ``_bird_model``), and
``scenes_model``, a tiny sound-scenes model (see ``_scenes_model``); and the ``train`` marker on
every test under ``tests/training/`` (they need the ``[train]`` extra: ``-m "not train"``
runs the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _bird_model import bird_model
from _scenes_model import scenes_model

__all__ = ["bird_model", "scenes_model"]


_TRAINING = Path(__file__).resolve().parent / "training"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _TRAINING in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.train)
