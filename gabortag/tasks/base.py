"""What a task is, as data: :class:`Task`, one entry of the registry :data:`gabortag.tasks.TASKS`.

An entry names the parts of a task by reference (``"module:attribute"`` strings), so that the
registry imports nothing heavy: ``gabortag --help`` and worker processes read it without
loading numpy, onnxruntime or the task's modules. :meth:`Task.load` imports a part on first use.

A fourth task is one package under ``gabortag/tasks/`` (its api, decoding, results, evaluation)
and one :class:`Task` line in ``gabortag/tasks/__init__.py``; every cross-task consumer (the
batch builders, the writers, ``gabortag eval``, the filter plots, checkpoint export, the tests)
reads the registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from ..inference import Model


def resolve(ref: str) -> Any:
    """The object that ``ref`` (``"package.module:attribute"``) names, imported on first use.

    Raises:
        ValueError: ``ref`` is not of that form.
        ImportError, AttributeError: the module or attribute does not exist.
    """
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"a reference is 'package.module:attribute', got {ref!r}")
    return getattr(importlib.import_module(module), attr)


class _Options(Protocol):
    """What a task's decision options class has: defaults, and ``from_dict``."""

    def __init__(self) -> None: ...

    @classmethod
    def from_dict(cls: type[_O], d: Mapping[str, Any], /) -> _O: ...


_O = TypeVar("_O", bound=_Options)


def model_options(options: type[_O], model: Model) -> _O:
    """The decision options of a task for ``model``: those stored in its
    ``gabortag.postprocess`` metadata (tuned when it was released), else ``options()``, the
    generic defaults."""
    post = model.info.postprocess
    return options.from_dict(post) if post else options()


@dataclass(frozen=True)
class Task:
    """One task of gabortag: what it answers and where its parts are.

    Attributes:
        name: the task's name: the CLI command (``gabortag NAME``), the ``task`` of a model's
            metadata, of a checkpoint and of a :class:`~gabortag.batch.spec.TaskSpec`.
        title: a few words for people (plot titles, listings): ``"speech activity"``.
        default_model: the bundled model a command uses when none is given.
        builder: reference to ``f(spec: TaskSpec) -> Processor``: loads the model, checks the
            options, returns what processes one input (:mod:`gabortag.batch.spec`).
        writers: references to the task's :class:`~gabortag.io.formats.Writer` classes, in
            the order the formats are listed; the first is the default format.
        evaluator: reference to ``f(model, paths, reference, *, device, threads, **options)``,
            the function behind ``gabortag eval NAME``.
        eval_options: the keyword options of ``evaluator`` beyond ``device`` and ``threads``
            (e.g. ``"collar"``); the CLI accepts a task-specific eval flag only for the tasks
            that list its option.
        reference_required: ``gabortag eval NAME`` needs a reference (``False``: the labels
            may come from the file names, as scenes' do).
        reference_folder: a folder of annotation files is a valid reference.
        network: the kind of network its checkpoints hold: ``"frames"`` (a frame tagger,
            :class:`~gabortag.training.nets.framenet.VadNet`) or ``"clips"`` (a window
            classifier, :class:`~gabortag.training.nets.scenenet.SceneNet`).
    """

    name: str
    title: str
    default_model: str
    builder: str
    writers: tuple[str, ...]
    evaluator: str
    eval_options: frozenset[str] = frozenset()
    reference_required: bool = True
    reference_folder: bool = False
    network: str = "frames"

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"name: a task's name is an identifier, got {self.name!r}")
        if not self.writers:
            raise ValueError(f"writers: task {self.name!r} has no output format")
        if self.network not in ("frames", "clips"):
            raise ValueError(f"network: 'frames' or 'clips', got {self.network!r}")

    def load(self, part: str) -> Any:
        """The object behind one of the reference fields (``"builder"``, ``"evaluator"``)."""
        ref = getattr(self, part)
        if not isinstance(ref, str):
            raise TypeError(f"{part!r} is not a reference field of Task")
        return resolve(ref)

    def writer_classes(self) -> tuple[Any, ...]:
        """The task's writer classes, imported, in the order of :attr:`writers`."""
        return tuple(resolve(ref) for ref in self.writers)
