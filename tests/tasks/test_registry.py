"""The task registry (``gabortag.tasks.TASKS``): every cross-task consumer knows every task.

Each test is parametrised over the registry, so that a task added there and missing from a
consumer (the batch builders, the writers, ``gabortag eval``, the filter plots, checkpoint
export, the CLI commands, the bundled models) fails here.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from gabortag.batch.spec import TaskSpec
from gabortag.cli.eval import EVAL_FLAGS, TABLES
from gabortag.io.formats import Writer, extension, formats, get_writer
from gabortag.kernels.plots import TASK_NAMES
from gabortag.models import bundled_checkpoint, manifest, models_dir, sha256_of
from gabortag.tasks import TASKS, get_task, task_names
from gabortag.tasks.base import Task, resolve

from _cli_helpers import needs_script, run  # isort: skip

NAMES = list(TASKS)


def test_the_three_tasks_in_order() -> None:
    assert task_names() == ("vad", "birdcalls", "scenes")
    assert all(get_task(name) is TASKS[name] for name in NAMES)


def test_an_unknown_task_is_refused_with_the_list() -> None:
    with pytest.raises(ValueError, match="unknown task 'bats'; choose one of vad, birdcalls"):
        get_task("bats")
    with pytest.raises(ValueError, match="unknown task"):
        TaskSpec("bats")


def test_a_bad_reference_is_refused() -> None:
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        resolve("gabortag.tasks")
    with pytest.raises(ValueError, match="network"):
        Task("x", "x", "x", "a:b", ("a:b",), "a:b", network="graphs")


@pytest.mark.parametrize("name", NAMES)
def test_builder_and_evaluator_resolve(name: str) -> None:
    task = TASKS[name]
    assert callable(task.load("builder"))
    evaluate = task.load("evaluator")
    params = inspect.signature(evaluate).parameters
    # the CLI passes device, threads and the task's eval options by keyword
    assert {"device", "threads", *task.eval_options} <= set(params)
    assert task.eval_options <= set(EVAL_FLAGS)


@pytest.mark.parametrize("name", NAMES)
def test_writers_come_from_the_registry(name: str) -> None:
    task = TASKS[name]
    classes = task.writer_classes()
    assert all(issubclass(c, Writer) for c in classes)
    assert formats(name) == tuple(c.format for c in classes)
    assert formats(name)[0] == "json"  # the task commands' default format
    for fmt in formats(name):
        assert type(get_writer(fmt, name)).format == fmt
        assert extension(fmt, name).startswith(".")


@pytest.mark.parametrize("name", NAMES)
def test_spec_eval_tables_and_plots_know_it(name: str) -> None:
    assert TaskSpec(name).model == TASKS[name].default_model
    assert name in TABLES
    assert TASK_NAMES[name] == TASKS[name].title


def test_no_consumer_knows_a_task_the_registry_lacks() -> None:
    assert set(TABLES) == set(TASK_NAMES) == set(TASKS)


@pytest.mark.parametrize("name", NAMES)
def test_each_task_has_a_bundled_model_with_a_verified_checkpoint(name: str) -> None:
    entries = [e for e in manifest() if e.task == name]
    assert any(e.name == TASKS[name].default_model for e in entries)
    for entry in entries:
        path = bundled_checkpoint(entry.name)
        assert path.parent == models_dir() and sha256_of(path) == entry.checkpoint_sha256


def test_every_bundled_model_is_of_a_registry_task() -> None:
    assert {e.task for e in manifest()} <= set(TASKS)


def test_a_checkpoint_failing_its_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gabortag import models
    from gabortag.errors import ModelError

    for item in models_dir().iterdir():
        (tmp_path / item.name).symlink_to(item)
    data = json.loads((models_dir() / "manifest.json").read_text())
    data["models"][0]["checkpoint_sha256"] = "0" * 64
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    monkeypatch.setattr(models, "models_dir", lambda: tmp_path)
    with pytest.raises(ModelError, match="fails its checksum"):
        bundled_checkpoint(data["models"][0]["name"])


@pytest.mark.train
@pytest.mark.parametrize("name", NAMES)
def test_bundled_checkpoints_store_their_task(name: str) -> None:
    torch = pytest.importorskip("torch")
    from gabortag.training.checkpoints import checkpoint_task, load_training_checkpoint

    for entry in (e for e in manifest() if e.task == name):
        ck = load_training_checkpoint(bundled_checkpoint(entry.name))  # weights_only=True
        assert ck["task"] == name and checkpoint_task(ck) == name
        assert isinstance(ck["model"], dict) and torch.is_tensor(next(iter(ck["model"].values())))


@needs_script
@pytest.mark.parametrize("name", NAMES)
def test_each_task_has_its_commands(name: str, tmp_path: Path) -> None:
    for args in ((name, "--help"), ("train", name, "--help")):
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    done = run("eval", name, "missing.wav", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr


@needs_script
def test_eval_refuses_another_tasks_option(tmp_path: Path) -> None:
    done = run("eval", "scenes", "x.wav", "--collar", "0.25", cwd=tmp_path)
    assert done.returncode == 2 and "--collar is for vad only" in done.stderr
    done = run("eval", "vad", "x.wav", "--tolerance", "0.05", cwd=tmp_path)
    assert done.returncode == 2 and "--tolerance is for birdcalls only" in done.stderr
