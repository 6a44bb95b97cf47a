"""The tasks of gabortag and their registry, :data:`TASKS`.

Each task is a package here (``vad/``, ``birdcalls/``, ``scenes/``: its api, decoding,
evaluation) and one :class:`~gabortag.tasks.base.Task` entry below. Everything that handles
"each task" (the batch builders, the writers, ``gabortag eval``, the filter plots, checkpoint
export, the tests that cover every task) reads this registry, so that a task added here is
known everywhere and a task missing from one of them fails a test.

The registry imports nothing heavy (see :mod:`gabortag.tasks.base`)::

    from gabortag.tasks import TASKS, get_task
    get_task("vad").title            # "speech activity"
    [t.name for t in TASKS.values()] # ["vad", "birdcalls", "scenes"]
"""

from __future__ import annotations

from types import MappingProxyType

from .base import Task

_FORMATS = "gabortag.io.formats"

_ENTRIES = (
    Task(
        name="vad",
        title="speech activity",
        default_model="vad",
        builder="gabortag.tasks.vad.api:build_processor",
        writers=tuple(
            f"{_FORMATS}:{w}"
            for w in (
                "JsonWriter",
                "JsonlWriter",
                "RttmWriter",
                "CsvWriter",
                "AudacityWriter",
                "TextGridWriter",
            )
        ),
        evaluator="gabortag.tasks.vad.evaluate:evaluate_vad_files",
        eval_options=frozenset({"uem", "collar"}),
    ),
    Task(
        name="birdcalls",
        title="bird calls",
        default_model="birdcalls",
        builder="gabortag.tasks.birdcalls.api:build_processor",
        writers=tuple(
            f"{_FORMATS}:{w}"
            for w in (
                "EventJsonWriter",
                "JsonlWriter",
                "EventCsvWriter",
                "EventAudacityWriter",
                "RavenWriter",
            )
        ),
        evaluator="gabortag.tasks.birdcalls.evaluate:evaluate_bird_files",
        eval_options=frozenset({"ignore_labels", "label_map", "tolerance", "annot_format"}),
        reference_folder=True,
    ),
    Task(
        name="scenes",
        title="sound scenes",
        default_model="scenes",
        builder="gabortag.tasks.scenes.api:build_processor",
        writers=tuple(
            f"{_FORMATS}:{w}"
            for w in (
                "SceneJsonWriter",
                "JsonlWriter",
                "SceneCsvWriter",
                "SceneAudacityWriter",
                "SceneRavenWriter",
            )
        ),
        evaluator="gabortag.tasks.scenes.evaluate:evaluate_scene_files",
        reference_required=False,
        network="clips",
    ),
)

#: Every task, by name, in the order they are listed (read-only).
TASKS = MappingProxyType({t.name: t for t in _ENTRIES})


def task_names() -> tuple[str, ...]:
    """The names of the tasks, in registry order: ``("vad", "birdcalls", "scenes")``."""
    return tuple(TASKS)


def get_task(name: str) -> Task:
    """The registry entry of task ``name``.

    Raises:
        ValueError: no task has that name; the message lists the tasks.
    """
    task = TASKS.get(name)
    if task is None:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return task


__all__ = ["TASKS", "Task", "get_task", "task_names"]
