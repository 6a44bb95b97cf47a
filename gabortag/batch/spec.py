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
        if self.task not in _BUILDERS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
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


def _vad(spec: TaskSpec) -> Processor:
    from ..tasks.vad.api import default_options, detect_speech, resolve_model

    m = resolve_model(spec.model, device=spec.device, threads=spec.threads)
    names = ("onset", "offset", "min_speech", "min_silence", "pad")
    opts = default_options(m).with_overrides(**{k: spec.option(k) for k in names})
    scores = bool(spec.option("scores"))

    def process(item: InputItem) -> Result:
        return detect_speech(item.source, model=m, options=opts, return_scores=scores)

    return Processor(m, process)


def _birdcalls(spec: TaskSpec) -> Processor:
    from ..tasks.birdcalls.api import default_options, detect_calls, resolve_model
    from ..tasks.birdcalls.segments import SegmentOptions

    m = resolve_model(spec.model, device=spec.device, threads=spec.threads)
    opts = default_options(m).with_overrides(
        min_confidence=spec.option("min_confidence"),
        min_duration=spec.option("min_duration"),
        min_gap=spec.option("min_gap"),
        thresholds=spec.option("thresholds"),
    )
    try:
        opts.check_labels(m.info.labels)
    except ValueError as err:
        raise ValueError(f"--threshold: {err}") from None

    scores = bool(spec.option("scores"))
    segments = bool(spec.option("segments_only"))
    seg_opts = SegmentOptions.from_dict(spec.option("segment_options") or {})

    def process(item: InputItem) -> Result:
        return detect_calls(
            item.source,
            model=m,
            options=opts,
            return_scores=scores,
            segments_only=segments,
            segment_options=seg_opts,
        )

    return Processor(m, process)


def _scenes(spec: TaskSpec) -> Processor:
    from ..tasks.scenes.api import default_options, resolve_model, tag_scenes, windowing

    m = resolve_model(spec.model, device=spec.device, threads=spec.threads)
    labels = spec.option("labels")
    opts = default_options(m).with_overrides(
        window_s=spec.option("window_s"),
        hop_s=spec.option("hop_s"),
        top_k=spec.option("top_k"),
        min_score=spec.option("min_score"),
        labels=None if labels is None else tuple(labels),
    )
    try:
        opts.check_labels(m.info.labels)
    except ValueError as err:
        raise ValueError(f"--labels: {err}") from None
    try:
        windowing(m, opts)
    except ValueError as err:
        raise ValueError(f"--window/--hop: {err}") from None

    def process(item: InputItem) -> Result:
        return tag_scenes(item.source, model=m, options=opts)

    return Processor(m, process)


#: How each task builds its processor from a spec. A new task adds its builder here, so that
#: every process that imports gabortag (worker processes, dask workers) knows it.
_BUILDERS: dict[str, Callable[[TaskSpec], Processor]] = {
    "vad": _vad,
    "birdcalls": _birdcalls,
    "scenes": _scenes,
}

#: The tasks a :class:`TaskSpec` can name.
TASKS = tuple(_BUILDERS)


def build_processor(spec: TaskSpec) -> Processor:
    """Load the model of ``spec`` and check its options (not cached: see :func:`processor`).

    Raises:
        ModelError: the model cannot be loaded or belongs to another task.
        ValueError: an option is out of range or names something the model lacks.
    """
    return _BUILDERS[spec.task](spec)


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
