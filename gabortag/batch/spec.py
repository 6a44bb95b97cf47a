"""A task command as data: a small picklable :class:`TaskSpec` from which any process (this
one, a worker process, a dask worker) builds the function that processes one input.

A spec names the task (``vad``, ``birdcalls``, ``scenes``), the model (a bundled name or an
``.onnx`` path), the task's options as JSON-like values, the device and the onnxruntime
threads::

    spec = TaskSpec("vad", options={"pad": 0.1, "scores": True})
    proc = build_processor(spec)           # loads the model, checks the options
    result = proc.process(InputItem("meeting.wav", "meeting.wav"))

Options left out (or ``None``) take the model's defaults. Options of ``vad``: ``onset``,
``offset`` (probabilities), ``min_speech``, ``min_silence``, ``pad`` (seconds), ``scores``
(bool: add the frame probabilities). Options of ``birdcalls``: ``min_confidence``
(probability), ``min_duration``, ``min_gap`` (seconds), ``thresholds`` (``{label: value}``),
``scores`` (bool: add the frames' call probabilities), ``segments_only`` (bool: type-agnostic
segments instead of typed events), ``segment_options`` (``{field: value}`` of
:class:`~gabortag.tasks.birdcalls.segments.SegmentOptions`, for ``segments_only``).
Options of ``scenes``: ``window_s``, ``hop_s`` (seconds), ``top_k``, ``min_score``, ``labels``
(a list of label names to consider).

:func:`processor` caches what it builds per spec, so a worker that gets many inputs of one
spec loads the model once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..tasks import get_task, task_names
from .run import Failure, Process, attempt

if TYPE_CHECKING:
    from ..inference import Model
    from ..io.discover import InputItem
    from ..io.formats import Result


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to build a task's ``process(item)``; picklable.

    Attributes:
        task: the task's name, one of :data:`TASKS`.
        model: a bundled model name or a path to an ``.onnx`` file; ``""``: the bundled model
            named like the task.
        options: the task's options (see the module docstring), JSON-like values; a missing
            or ``None`` option takes the model's default.
        device: ``cpu``, ``cuda`` or ``auto`` (see :mod:`gabortag.runtime`).
        threads: onnxruntime intra-op threads per process; ``None`` lets onnxruntime choose.
    """

    task: str
    model: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        get_task(self.task)  # ValueError naming the tasks
        if not self.model:
            object.__setattr__(self, "model", self.task)
        object.__setattr__(self, "options", dict(self.options))

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def key(self) -> str:
        """A string that identifies the spec (for caches): its fields as sorted JSON."""
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def option(self, name: str) -> Any:
        """The value of option ``name``, ``None`` when not given."""
        return self.options.get(name)


@dataclass(frozen=True)
class Processor:
    """A task ready to run: the loaded model and what processes one input."""

    model: Model
    process: Process


#: The tasks a :class:`TaskSpec` can name, in registry order (see :mod:`gabortag.tasks`).
TASKS = task_names()


def build_processor(spec: TaskSpec) -> Processor:
    """Load the model of ``spec`` and check its options (not cached: see :func:`processor`).

    The task's builder comes from the registry (:attr:`gabortag.tasks.base.Task.builder`), so
    that every process that imports gabortag (worker processes, dask workers) knows each task.

    Raises:
        ModelError: the model cannot be loaded or belongs to another task.
        OptionError: an option is out of range or names something the model lacks (a
            ``ValueError``; its ``field`` names the option).
    """
    build: Callable[[TaskSpec], Processor] = get_task(spec.task).load("builder")
    return build(spec)


_CACHE: OrderedDict[str, Processor] = OrderedDict()
_CACHE_SIZE = 8
_LOCK = threading.Lock()


def processor(spec: TaskSpec) -> Processor:
    """:func:`build_processor`, cached per spec (the last 8) and safe across threads: a process
    that gets many inputs of one spec loads its model once."""
    key = spec.key
    with _LOCK:  # held while building, so that threads of one worker build a spec once
        found = _CACHE.get(key)
        if found is None:
            found = _CACHE[key] = build_processor(spec)
            if len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(key)
        return found


def run_item(spec: TaskSpec, item: InputItem) -> Result | Failure:
    """Process one input with the (cached) processor of ``spec``: its result, or its failure.

    This is what worker processes run; it is a module-level function so that it pickles.
    """
    return attempt(processor(spec).process, item)
