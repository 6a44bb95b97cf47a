"""A checkpoint's task: its own ``task`` entry first, else inferred from older checkpoints' keys."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from gabortag.errors import ModelError
from gabortag.tasks import TASKS
from gabortag.training.checkpoints import checkpoint_task


@pytest.mark.parametrize("task", list(TASKS))
def test_a_stored_task_wins_over_the_keys(task: str) -> None:
    assert checkpoint_task({"model": {}, "config": {"n_classes": 3}, "task": task}) == task


def test_older_checkpoints_are_inferred() -> None:
    assert checkpoint_task({"model": {}, "config": {"n_classes": 3}}) == "scenes"
    assert checkpoint_task({"model": {}, "config": {}, "classes": ["a"]}) == "birdcalls"
    assert checkpoint_task({"model": {}, "config": {}}) == "vad"


def test_an_unknown_task_is_refused() -> None:
    with pytest.raises(ModelError, match="unknown task 'x'"):
        checkpoint_task({"model": {}, "config": {}, "task": "x"})
