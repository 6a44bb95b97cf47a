"""Output formats of the task results: one small class per format and task behind
:func:`get_writer` (``get_writer(fmt, task="vad")``).

A writer is used in one of two modes:

* **one output per input**: ``get_writer(fmt, task).write_one(result, stream)`` writes a
  complete document for one result (:class:`~gabortag.tasks.results.VadResult` for ``vad``,
  :class:`~gabortag.tasks.results.EventResult` for ``birdcalls``,
  :class:`~gabortag.tasks.results.SceneResult` for ``scenes``).
* **one combined output for many inputs**, streamed as results arrive::

      writer = get_writer(fmt, task)
      if not writer.combinable: ...  # refuse: the format holds one file only
      writer.begin(stream, n_files)                  # n_files: how many inputs, if known
      for each input:
          writer.write_item(result, stream)          # on success
          writer.write_error(path, message, stream)  # on failure (json/jsonl keep it)
      writer.end(stream)

Nothing is held in memory across items except the error list of the ``json`` format, which
goes after the ``"files"`` array. A writer keeps per-stream state between :meth:`Writer.begin`
and :meth:`Writer.end`, so use a fresh writer (``get_writer`` returns one) per stream.

Formats of ``vad``:

* ``json``: ``{"schema_version", "tool", "version", "task", "files": [...], "errors": [...]}``,
  indented by 2; the same document whether written in one go or incrementally.
* ``jsonl``: one line per file (``VadResult.to_dict()`` plus ``"schema_version"``), and one
  ``{"path", "error"}`` line per failed file.
* ``rttm``: ``SPEAKER <uri> 1 <onset> <duration> <NA> <NA> speech <NA> <NA>``, where ``uri``
  is the file stem with whitespace replaced by ``_``. A file without speech has no line.
* ``csv``: header ``path,start,end,duration``, one row per segment. A file without speech has
  no row.
* ``audacity``: label track ``start<TAB>end<TAB>speech``. Labels carry no file name, so the
  combined output simply concatenates the labels of all files (mostly useful for one file).
* ``textgrid``: Praat long TextGrid, one IntervalTier ``speech`` tiling ``[0, duration]`` with
  alternating ``""`` and ``"speech"`` intervals. One file per TextGrid: not combinable (a
  combined stream accepts a single file).

Formats of ``birdcalls`` (events: start, end, label, confidence, low and high frequency):

* ``json``: the same envelope with ``"task": "birdcalls"`` and ``files[].events``
  (:meth:`~gabortag.tasks.results.EventResult.to_dict`); ``jsonl`` as for vad.
* ``csv``: header ``path,start,end,label,confidence,low_freq,high_freq``, one row per event.
* ``audacity``: label track ``start<TAB>end<TAB>label``.
* ``raven``: Raven Pro selection table (extension ``.selections.txt``), tab-separated, header
  ``Selection, View, Channel, Begin Time (s), End Time (s), Low Freq (Hz), High Freq (Hz),
  Type, Confidence``; selections numbered from 1, ``View`` is ``Spectrogram 1``, ``Channel``
  is 1. A combined output over several files (or an unknown number) adds a last column
  ``Begin File`` holding each event's input as given (its times are relative to that file),
  and numbers selections on across files. Tabs and line breaks in text become spaces.

Formats of ``scenes`` (analysis windows, each with the labels reported for it, and a per-label
summary; see :mod:`gabortag.tasks.scenes.api`):

* ``json``: the same envelope with ``"task": "scenes"``; each of ``files[]`` holds ``window`` and
  ``hop`` (seconds), ``summary`` (per label: ``label``, ``duration``, ``windows``, ``best``) and
  ``windows`` (``start``, ``end``, ``labels``: ``[{"label", "score"}]``), see
  :meth:`~gabortag.tasks.results.SceneResult.to_dict`; ``jsonl`` as for vad.
* ``csv``: header ``path,start,end,label,score``, one row per window and reported label.
* ``audacity``: label track ``start<TAB>end<TAB>label``, one label per window and reported label
  (overlapping windows give overlapping labels).
* ``raven``: the selection table of ``birdcalls`` with ``Label`` and ``Score`` in place of
  ``Type`` and ``Confidence``, one selection per window and reported label; ``Low Freq (Hz)`` is
  0 and ``High Freq (Hz)`` the input's Nyquist frequency (half its sample rate; 0 if unknown).

A window without any reported label has no row or label in csv, audacity and raven.

Times are seconds; json/jsonl/rttm/csv round to the millisecond, audacity, textgrid and raven
to the microsecond; frequencies to 0.1 Hz, confidences and scores to 1e-4. Errors are ignored
by every format except json and jsonl.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any, ClassVar, Generic, Protocol, TextIO, TypeVar

from gabortag.tasks.results import (
    SCHEMA_VERSION,
    EventResult,
    SceneLabel,
    SceneResult,
    SceneWindow,
    VadResult,
)


class Result(Protocol):
    """What every writer needs of a result: its input path and its JSON form."""

    @property
    def path(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Result)


def _tool_version() -> str:
    """``gabortag.__version__`` when the package defines it, else ``"0"``."""
    try:
        from gabortag import __version__
    except ImportError:
        return "0"
    return str(__version__)


class Writer(ABC, Generic[R]):
    """One output format of one task.

    Attributes:
        format: name of the format (a member of :func:`formats` of its task).
        extension: file extension with its dot(s), e.g. ``".json"``, ``".selections.txt"``.
        combinable: whether one stream can hold the results of many inputs.
    """

    format: ClassVar[str]
    extension: ClassVar[str]
    combinable: ClassVar[bool] = True

    def __init__(self) -> None:
        self.count = 0  # items written since begin()

    def write_one(self, result: R, stream: TextIO) -> None:
        """Write the complete output of a single input."""
        self.begin(stream, n_files=1)
        self.write_item(result, stream)
        self.end(stream)

    def begin(self, stream: TextIO, n_files: int | None = None) -> None:
        """Start a (combined) output of ``n_files`` inputs (``None``: unknown): write the
        header, reset the state."""
        self.count = 0

    def write_item(self, result: R, stream: TextIO) -> None:
        """Write one input's result into the output opened by :meth:`begin`."""
        if not self.combinable and self.count >= 1:
            raise ValueError(
                f"the {self.format} format holds one file only; "
                "write one output per input instead of a combined output"
            )
        self._write_item(result, stream)
        self.count += 1

    @abstractmethod
    def _write_item(self, result: R, stream: TextIO) -> None: ...

    def write_error(self, path: str, message: str, stream: TextIO) -> None:
        """Record that ``path`` failed with ``message`` (ignored unless the format keeps it)."""

    def end(self, stream: TextIO) -> None:
        """Finish the output opened by :meth:`begin` (write the footer)."""


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


class JsonWriter(Writer[Result]):
    """One JSON document; items are streamed into its ``"files"`` array."""

    format = "json"
    extension = ".json"
    task: ClassVar[str] = "vad"

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[dict[str, str]] = []

    def begin(self, stream: TextIO, n_files: int | None = None) -> None:
        super().begin(stream, n_files)
        self.errors = []
        header = {
            "schema_version": SCHEMA_VERSION,
            "tool": "gabortag",
            "version": _tool_version(),
            "task": self.task,
        }
        # The header's text without its closing "\n}", so that "files" can follow.
        stream.write(json.dumps(header, indent=2)[:-2] + ',\n  "files": [')

    def _write_item(self, result: Result, stream: TextIO) -> None:
        stream.write("," if self.count else "")
        stream.write("\n" + _indent(json.dumps(result.to_dict(), indent=2), "    "))

    def write_error(self, path: str, message: str, stream: TextIO) -> None:
        self.errors.append({"path": path, "error": message})

    def end(self, stream: TextIO) -> None:
        stream.write("\n  ]" if self.count else "]")
        errors = json.dumps(self.errors, indent=2).replace("\n", "\n  ")
        stream.write(f',\n  "errors": {errors}\n}}\n')


class EventJsonWriter(JsonWriter):
    """The ``json`` document of ``birdcalls``: ``"task": "birdcalls"``, ``files[].events``."""

    task = "birdcalls"


class SceneJsonWriter(JsonWriter):
    """The ``json`` document of ``scenes``: ``"task": "scenes"``, ``files[].windows``."""

    task = "scenes"


class JsonlWriter(Writer[Result]):
    """One JSON object per line: a result, or ``{"path", "error"}`` for a failed input."""

    format = "jsonl"
    extension = ".jsonl"

    def _write_item(self, result: Result, stream: TextIO) -> None:
        record: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **result.to_dict()}
        stream.write(json.dumps(record) + "\n")

    def write_error(self, path: str, message: str, stream: TextIO) -> None:
        stream.write(json.dumps({"path": path, "error": message}) + "\n")


def rttm_uri(path: str) -> str:
    """RTTM file id of ``path``: its stem, whitespace replaced by ``_`` (fields are blank-split)."""
    stem = PurePath(path).stem or path or "-"
    return re.sub(r"\s", "_", stem)


class RttmWriter(Writer[VadResult]):
    """NIST RTTM, one ``SPEAKER`` line per segment."""

    format = "rttm"
    extension = ".rttm"

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        uri = rttm_uri(result.path)
        for seg in result.segments:
            onset = round(seg.start, 3)
            duration = round(seg.end, 3) - onset  # so that onset + duration rounds to the end
            stream.write(f"SPEAKER {uri} 1 {onset:.3f} {duration:.3f} <NA> <NA> speech <NA> <NA>\n")


class _CsvWriter(Writer[R]):
    """CSV with the :attr:`header` row, then the :meth:`rows` of each result."""

    format = "csv"
    extension = ".csv"
    header: ClassVar[tuple[str, ...]]

    def begin(self, stream: TextIO, n_files: int | None = None) -> None:
        super().begin(stream, n_files)
        csv.writer(stream, lineterminator="\n").writerow(self.header)

    def _write_item(self, result: R, stream: TextIO) -> None:
        csv.writer(stream, lineterminator="\n").writerows(self.rows(result))

    @abstractmethod
    def rows(self, result: R) -> Iterable[list[str]]: ...


class CsvWriter(_CsvWriter[VadResult]):
    """Header ``path,start,end,duration``, then one row per segment."""

    header = ("path", "start", "end", "duration")

    def rows(self, result: VadResult) -> Iterable[list[str]]:
        for seg in result.segments:
            start, end = round(seg.start, 3), round(seg.end, 3)
            yield [result.path, f"{start:.3f}", f"{end:.3f}", f"{end - start:.3f}"]


class EventCsvWriter(_CsvWriter[EventResult]):
    """Header ``path,start,end,label,confidence,low_freq,high_freq``, one row per event."""

    header = ("path", "start", "end", "label", "confidence", "low_freq", "high_freq")

    def rows(self, result: EventResult) -> Iterable[list[str]]:
        for e in result.events:
            yield [
                result.path,
                f"{e.start:.3f}",
                f"{e.end:.3f}",
                e.label,
                f"{e.confidence:.4f}",
                f"{e.low_freq:.1f}",
                f"{e.high_freq:.1f}",
            ]


def window_labels(result: SceneResult) -> Iterator[tuple[SceneWindow, SceneLabel]]:
    """Each ``(window, label)`` pair reported in ``result``, in window order, then score order."""
    return ((w, lab) for w in result.windows for lab in w.labels)


class SceneCsvWriter(_CsvWriter[SceneResult]):
    """Header ``path,start,end,label,score``, one row per window and reported label."""

    header = ("path", "start", "end", "label", "score")

    def rows(self, result: SceneResult) -> Iterable[list[str]]:
        for w, lab in window_labels(result):
            yield [result.path, f"{w.start:.3f}", f"{w.end:.3f}", lab.label, f"{lab.score:.4f}"]


class _LabelTrackWriter(Writer[R]):
    """Audacity label track: ``start<TAB>end<TAB>text`` per :meth:`labels` item.

    Labels have no file column, so a combined output concatenates the labels of every file.
    """

    format = "audacity"
    extension = ".txt"

    def _write_item(self, result: R, stream: TextIO) -> None:
        stream.writelines(f"{s:.6f}\t{e:.6f}\t{_field(t)}\n" for s, e, t in self.labels(result))

    @abstractmethod
    def labels(self, result: R) -> Iterable[tuple[float, float, str]]: ...


class AudacityWriter(_LabelTrackWriter[VadResult]):
    """Audacity labels ``start<TAB>end<TAB>speech``, one per segment."""

    def labels(self, result: VadResult) -> Iterable[tuple[float, float, str]]:
        return ((s.start, s.end, "speech") for s in result.segments)


class EventAudacityWriter(_LabelTrackWriter[EventResult]):
    """Audacity labels ``start<TAB>end<TAB>label``, one per event."""

    def labels(self, result: EventResult) -> Iterable[tuple[float, float, str]]:
        return ((e.start, e.end, e.label) for e in result.events)


class SceneAudacityWriter(_LabelTrackWriter[SceneResult]):
    """Audacity labels ``start<TAB>end<TAB>label``, one per window and reported label."""

    def labels(self, result: SceneResult) -> Iterable[tuple[float, float, str]]:
        return ((w.start, w.end, lab.label) for w, lab in window_labels(result))


def _field(text: str) -> str:
    """``text`` fit for a tab-separated line: tabs and line breaks become spaces."""
    return re.sub(r"[\t\r\n]", " ", text)


RAVEN_COLUMNS = (
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Type",
    "Confidence",
)


#: Columns of the ``raven`` table of ``scenes``.
SCENE_RAVEN_COLUMNS = (*RAVEN_COLUMNS[:-2], "Label", "Score")

#: One Raven selection: begin and end (s), low and high frequency (Hz), label, score.
Selection = tuple[float, float, float, float, str, float]


class _SelectionTableWriter(Writer[R]):
    """Raven Pro selection table with :attr:`columns`, one row per :meth:`selections` item; a
    combined output of several files adds ``Begin File``."""

    format = "raven"
    extension = ".selections.txt"
    columns: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        super().__init__()
        self.with_file = False
        self.selection = 0

    def begin(self, stream: TextIO, n_files: int | None = None) -> None:
        super().begin(stream, n_files)
        self.with_file = n_files != 1
        self.selection = 0
        stream.write("\t".join(self.columns + ("Begin File",) * self.with_file) + "\n")

    def _write_item(self, result: R, stream: TextIO) -> None:
        for start, end, low, high, label, score in self.selections(result):
            self.selection += 1
            row = [
                str(self.selection),
                "Spectrogram 1",
                "1",
                f"{start:.6f}",
                f"{end:.6f}",
                f"{low:.1f}",
                f"{high:.1f}",
                _field(label),
                f"{score:.4f}",
            ]
            stream.write("\t".join(row + [_field(result.path)] * self.with_file) + "\n")

    @abstractmethod
    def selections(self, result: R) -> Iterable[Selection]: ...


class RavenWriter(_SelectionTableWriter[EventResult]):
    """Raven Pro selection table of bird calls: ``Type`` and ``Confidence`` of each event."""

    columns = RAVEN_COLUMNS

    def selections(self, result: EventResult) -> Iterable[Selection]:
        return (
            (e.start, e.end, e.low_freq, e.high_freq, e.label, e.confidence) for e in result.events
        )


class SceneRavenWriter(_SelectionTableWriter[SceneResult]):
    """Raven Pro selection table of scenes: one selection per window and reported label, over
    the whole band (0 Hz to the input's Nyquist frequency), with ``Label`` and ``Score``."""

    columns = SCENE_RAVEN_COLUMNS

    def selections(self, result: SceneResult) -> Iterable[Selection]:
        nyquist = result.sample_rate / 2
        return (
            (w.start, w.end, 0.0, nyquist, lab.label, lab.score) for w, lab in window_labels(result)
        )


def textgrid_intervals(result: VadResult) -> list[tuple[float, float, str]]:
    """Intervals ``(xmin, xmax, text)`` tiling ``[0, duration]`` (times rounded to 1 µs).

    Gaps become ``""`` intervals; touching segments merge; segments are clipped to the
    duration, and those shorter than 1 µs after rounding are dropped.
    """
    total = max(round(result.duration, 6), 0.0)
    intervals: list[tuple[float, float, str]] = []
    cursor = 0.0
    for seg in result.segments:
        start = min(max(round(seg.start, 6), cursor), total)
        end = min(round(seg.end, 6), total)
        if end <= start:
            continue
        if start > cursor:
            intervals.append((cursor, start, ""))
        if intervals and intervals[-1][2] == "speech" and intervals[-1][1] == start:
            intervals[-1] = (intervals[-1][0], end, "speech")
        else:
            intervals.append((start, end, "speech"))
        cursor = end
    if cursor < total or not intervals:
        intervals.append((cursor, total, ""))
    return intervals


def _praat_str(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class TextGridWriter(Writer[VadResult]):
    """Praat long TextGrid with one IntervalTier ``speech``; one file per TextGrid."""

    format = "textgrid"
    extension = ".TextGrid"
    combinable = False

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        intervals = textgrid_intervals(result)
        xmax = repr(intervals[-1][1])
        lines = [
            'File type = "ooTextFile"',
            'Object class = "TextGrid"',
            "",
            "xmin = 0 ",
            f"xmax = {xmax} ",
            "tiers? <exists> ",
            "size = 1 ",
            "item []: ",
            "    item [1]:",
            '        class = "IntervalTier" ',
            '        name = "speech" ',
            "        xmin = 0 ",
            f"        xmax = {xmax} ",
            f"        intervals: size = {len(intervals)} ",
        ]
        for i, (lo, hi, text) in enumerate(intervals, 1):
            lines += [
                f"        intervals [{i}]:",
                f"            xmin = {lo!r} ",
                f"            xmax = {hi!r} ",
                f"            text = {_praat_str(text)} ",
            ]
        stream.write("\n".join(lines) + "\n")


@functools.cache
def _all_writers() -> dict[str, dict[str, type[Writer[Any]]]]:
    """Each task's writers by format, from the task registry (:attr:`Task.writers`)."""
    from ..tasks import TASKS

    return {name: {w.format: w for w in task.writer_classes()} for name, task in TASKS.items()}


def _task_writers(task: str) -> dict[str, type[Writer[Any]]]:
    from ..tasks import get_task

    return _all_writers()[get_task(task).name]


def formats(task: str = "vad") -> tuple[str, ...]:
    """The output formats of ``task``, in the order they are listed."""
    return tuple(_task_writers(task))


def get_writer(fmt: str, task: str = "vad") -> Writer[Any]:
    """A fresh writer for ``fmt`` (case-insensitive), one of :func:`formats` of ``task``.

    Raises:
        ValueError: ``task`` or ``fmt`` is unknown; the message lists the valid ones.
    """
    writers = _task_writers(task)
    cls = writers.get(fmt.lower())
    if cls is None:
        raise ValueError(
            f"unknown output format {fmt!r} for {task}; choose one of: {', '.join(writers)}"
        )
    return cls()


def extension(fmt: str, task: str = "vad") -> str:
    """File extension (with its dot or dots) of format ``fmt`` of ``task``."""
    return get_writer(fmt, task).extension


#: Tasks that have writers (every task of the registry).
TASKS = tuple(_all_writers())

#: Formats of the ``vad`` task, in the order they are listed (kept for 0.1 callers).
FORMATS = formats("vad")

#: File extension of each ``vad`` format (kept for 0.1 callers; see :func:`extension`).
EXTENSIONS = {fmt: w.extension for fmt, w in _task_writers("vad").items()}
