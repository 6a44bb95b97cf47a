"""Output formats for VAD results: one small class per format behind :func:`get_writer`.

A writer is used in one of two modes:

* **one output per input**: ``get_writer(fmt).write_one(result, stream)`` writes a complete
  document for one :class:`~gabortag.results.VadResult`.
* **one combined output for many inputs**, streamed as results arrive::

      writer = get_writer(fmt)
      if not writer.combinable: ...  # refuse: the format holds one file only
      writer.begin(stream)
      for each input:
          writer.write_item(result, stream)          # on success
          writer.write_error(path, message, stream)  # on failure (json/jsonl keep it)
      writer.end(stream)

Nothing is held in memory across items except the error list of the ``json`` format, which
goes after the ``"files"`` array. A writer keeps per-stream state between :meth:`Writer.begin`
and :meth:`Writer.end`, so use a fresh writer (``get_writer`` returns one) per stream.

Formats:

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

Times are seconds; json/jsonl/rttm/csv round to the millisecond, audacity and textgrid to the
microsecond. Errors are ignored by every format except json and jsonl.
"""

from __future__ import annotations

import csv
import json
import re
from abc import ABC, abstractmethod
from pathlib import PurePath
from typing import Any, ClassVar, TextIO

from gabortag.results import SCHEMA_VERSION, VadResult

FORMATS = ("json", "jsonl", "rttm", "csv", "audacity", "textgrid")
EXTENSIONS = {
    "json": ".json",
    "jsonl": ".jsonl",
    "rttm": ".rttm",
    "csv": ".csv",
    "audacity": ".txt",
    "textgrid": ".TextGrid",
}


def _tool_version() -> str:
    """``gabortag.__version__`` when the package defines it, else ``"0"``."""
    try:
        from gabortag import __version__
    except ImportError:
        return "0"
    return str(__version__)


class Writer(ABC):
    """One output format.

    Attributes:
        format: name of the format (a member of :data:`FORMATS`).
        extension: file extension with its dot, e.g. ``".json"``.
        combinable: whether one stream can hold the results of many inputs.
    """

    format: ClassVar[str]
    extension: ClassVar[str]
    combinable: ClassVar[bool] = True

    def __init__(self) -> None:
        self.count = 0  # items written since begin()

    def write_one(self, result: VadResult, stream: TextIO) -> None:
        """Write the complete output of a single input."""
        self.begin(stream)
        self.write_item(result, stream)
        self.end(stream)

    def begin(self, stream: TextIO) -> None:
        """Start a (combined) output: write the header, reset the state."""
        self.count = 0

    def write_item(self, result: VadResult, stream: TextIO) -> None:
        """Write one input's result into the output opened by :meth:`begin`."""
        if not self.combinable and self.count >= 1:
            raise ValueError(
                f"the {self.format} format holds one file only; "
                "write one output per input instead of a combined output"
            )
        self._write_item(result, stream)
        self.count += 1

    @abstractmethod
    def _write_item(self, result: VadResult, stream: TextIO) -> None: ...

    def write_error(self, path: str, message: str, stream: TextIO) -> None:  # noqa: B027
        """Record that ``path`` failed with ``message`` (ignored unless the format keeps it)."""

    def end(self, stream: TextIO) -> None:  # noqa: B027
        """Finish the output opened by :meth:`begin` (write the footer)."""


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


class JsonWriter(Writer):
    """One JSON document; items are streamed into its ``"files"`` array."""

    format = "json"
    extension = ".json"

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[dict[str, str]] = []

    def begin(self, stream: TextIO) -> None:
        super().begin(stream)
        self.errors = []
        header = {
            "schema_version": SCHEMA_VERSION,
            "tool": "gabortag",
            "version": _tool_version(),
            "task": "vad",
        }
        # The header's text without its closing "\n}", so that "files" can follow.
        stream.write(json.dumps(header, indent=2)[:-2] + ',\n  "files": [')

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        stream.write("," if self.count else "")
        stream.write("\n" + _indent(json.dumps(result.to_dict(), indent=2), "    "))

    def write_error(self, path: str, message: str, stream: TextIO) -> None:
        self.errors.append({"path": path, "error": message})

    def end(self, stream: TextIO) -> None:
        stream.write("\n  ]" if self.count else "]")
        errors = json.dumps(self.errors, indent=2).replace("\n", "\n  ")
        stream.write(f',\n  "errors": {errors}\n}}\n')


class JsonlWriter(Writer):
    """One JSON object per line: a result, or ``{"path", "error"}`` for a failed input."""

    format = "jsonl"
    extension = ".jsonl"

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        record: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **result.to_dict()}
        stream.write(json.dumps(record) + "\n")

    def write_error(self, path: str, message: str, stream: TextIO) -> None:
        stream.write(json.dumps({"path": path, "error": message}) + "\n")


def rttm_uri(path: str) -> str:
    """RTTM file id of ``path``: its stem, whitespace replaced by ``_`` (fields are blank-split)."""
    stem = PurePath(path).stem or path or "-"
    return re.sub(r"\s", "_", stem)


class RttmWriter(Writer):
    """NIST RTTM, one ``SPEAKER`` line per segment."""

    format = "rttm"
    extension = ".rttm"

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        uri = rttm_uri(result.path)
        for seg in result.segments:
            onset = round(seg.start, 3)
            duration = round(seg.end, 3) - onset  # so that onset + duration rounds to the end
            stream.write(f"SPEAKER {uri} 1 {onset:.3f} {duration:.3f} <NA> <NA> speech <NA> <NA>\n")


class CsvWriter(Writer):
    """Header ``path,start,end,duration``, then one row per segment."""

    format = "csv"
    extension = ".csv"

    def begin(self, stream: TextIO) -> None:
        super().begin(stream)
        csv.writer(stream, lineterminator="\n").writerow(["path", "start", "end", "duration"])

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        rows = csv.writer(stream, lineterminator="\n")
        for seg in result.segments:
            start, end = round(seg.start, 3), round(seg.end, 3)
            rows.writerow([result.path, f"{start:.3f}", f"{end:.3f}", f"{end - start:.3f}"])


class AudacityWriter(Writer):
    """Audacity label track: ``start<TAB>end<TAB>speech`` per segment.

    Labels have no file column, so a combined output concatenates the labels of every file.
    """

    format = "audacity"
    extension = ".txt"

    def _write_item(self, result: VadResult, stream: TextIO) -> None:
        stream.writelines(f"{s.start:.6f}\t{s.end:.6f}\tspeech\n" for s in result.segments)


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


class TextGridWriter(Writer):
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


_WRITERS: dict[str, type[Writer]] = {
    w.format: w
    for w in (JsonWriter, JsonlWriter, RttmWriter, CsvWriter, AudacityWriter, TextGridWriter)
}


def get_writer(fmt: str) -> Writer:
    """A fresh writer for ``fmt`` (case-insensitive), one of :data:`FORMATS`.

    Raises:
        ValueError: ``fmt`` is not a known format; the message lists the valid ones.
    """
    cls = _WRITERS.get(fmt.lower())
    if cls is None:
        raise ValueError(f"unknown output format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return cls()
