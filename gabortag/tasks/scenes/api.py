"""Sound scenes: audio in, the labels of each analysis window and a per-file summary out.

A scenes model classifies one window of audio at a time: its ONNX input ``waveform`` is float32
``(batch, samples)``, each row one window of mono audio at the model's rate, and its output
``scores`` is float32 ``(batch, n_classes)``, the class probabilities (softmax) of each window.
It accepts any window of at least ``gabortag.min_samples`` samples (ONNX metadata; 1 when
absent).

Windows
-------
In samples at the model's rate, with window length ``W`` and hop ``H``: windows start at
``0, H, 2H, ...``; the last one is the first whose end ``k·H + W`` reaches the end of the
audio ``N``, and is truncated to ``N`` (so a file shorter than a window gives one window
covering it, and no window starts at or after ``N``). Zero samples give no window.

A truncated last window shorter than :data:`MIN_TAIL_FRACTION` of ``W`` (half a window) is
not a window of its own when there is a window before it: it carries too little audio to be
classified (the 1 ms left over by a 5.001 s clip cut into 5 s windows), so it is merged into
the previous window, which then runs to ``N`` and is scored on all its samples (up to 1.5 W).
When ``H > W`` (windows leave gaps) merging would take in the gap, so the short last window is
dropped instead. A window shorter than the window length (a kept truncated last one, or a
short file) is filled up to it (and to at least ``min_samples``) by repeating its samples
before the network sees it: the classifier was trained on full windows, short clips repeated
to fill them, and pools over time, so repetition keeps the window's statistics where zeros or
a short input would change them; its reported end stays the end of the audio. See
:func:`window_spans`.

Files are streamed (:func:`iter_windows`): memory holds one decoded block, one window and one
batch of windows, whatever the file's length, and the results equal those of the whole file
at once whatever the block sizes.

Labels
------
For each window, the labels considered (all the model's, or those of
:attr:`SceneOptions.labels`) are ranked by score; the ``top_k`` highest are reported when their
score reaches ``min_score``. A file's scores are its windows' scores averaged with weights
equal to the windows' lengths (:class:`ClipScores`), and its ``top`` label is their arg-max
among the labels considered (:func:`best_label`): the computation ``gabortag eval scenes``
scores. The summary of a file gives, for each label reported anywhere, that file score, the
length of the union of its windows (overlapping windows count once), how many windows report
it, and its ``best`` strongest windows; labels are ranked by their file score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelError, OptionError
from ...inference import DEFAULT_CHUNK_SECONDS, Model, as_model, check_task
from ...io.audio import ARRAY_NAME, forget, open_input
from ..base import model_options
from ..results import LabelSummary, SceneLabel, SceneResult, SceneWindow, ScoredSpan

if TYPE_CHECKING:
    from ...batch.spec import Processor, TaskSpec
    from ...io.discover import InputItem

TASK = "scenes"

#: Metadata key of the shortest window (samples) the network accepts.
MIN_SAMPLES_KEY = "gabortag.min_samples"

#: A truncated last window shorter than this fraction of the window length is merged into the
#: previous window (dropped when windows leave gaps); see the module docstring.
MIN_TAIL_FRACTION = 0.5


@dataclass(frozen=True)
class SceneOptions:
    """How windows are cut and which labels are reported.

    Attributes:
        window_s: seconds of one analysis window; ``None``: the model's
            (``gabortag.receptive_field``).
        hop_s: seconds between window starts; ``None``: the model's (``gabortag.hop``), but
            never more than the window, so that windows leave no gap.
        top_k: at most this many labels per window, highest scores first (>= 1).
        min_score: a label is reported only when its score reaches this, in ``[0, 1]``.
        labels: consider only these labels (names of the model's labels); ``None``: all.
            The ranking for ``top_k`` is among these labels.
        best: how many strongest windows the summary keeps per label (>= 0).
    """

    window_s: float | None = None
    hop_s: float | None = None
    top_k: int = 3
    min_score: float = 0.1
    labels: tuple[str, ...] | None = None
    best: int = 3

    def __post_init__(self) -> None:
        for name in ("window_s", "hop_s"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):  # rejects NaN
                raise OptionError(
                    name, f"{{{name}}} must be a finite number of seconds > 0, got {value}"
                )
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise OptionError("top_k", f"{{top_k}} must be an integer >= 1, got {self.top_k!r}")
        if not 0.0 <= self.min_score <= 1.0:
            raise OptionError(
                "min_score", f"{{min_score}} must be within [0, 1], got {self.min_score}"
            )
        if isinstance(self.best, bool) or not isinstance(self.best, int) or self.best < 0:
            raise OptionError("best", f"{{best}} must be an integer >= 0, got {self.best!r}")
        if self.labels is not None:
            if not self.labels or not all(self.labels):
                raise OptionError(
                    "labels", f"{{labels}} must be non-empty names, got {list(self.labels)}"
                )
            if len(set(self.labels)) != len(self.labels):
                raise OptionError("labels", f"{{labels}} are given twice: {list(self.labels)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SceneOptions:
        """Options from a dict such as the model's ``gabortag.postprocess`` (unknown keys are
        ignored)."""
        kwargs: dict[str, Any] = {}
        for name in ("window_s", "hop_s", "min_score"):
            if d.get(name) is not None:
                kwargs[name] = float(d[name])
        for name in ("top_k", "best"):
            if d.get(name) is not None:
                kwargs[name] = int(d[name])
        if d.get("labels") is not None:
            kwargs["labels"] = tuple(map(str, d["labels"]))
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> SceneOptions:
        """Copy with the given fields replaced; ``None`` values keep the current ones."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def check_labels(self, model_labels: Sequence[str]) -> None:
        """``ValueError`` naming the valid labels when :attr:`labels` holds a name the model
        does not have."""
        unknown = [name for name in self.labels or () if name not in model_labels]
        if unknown:
            raise ValueError(
                f"unknown label{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; "
                f"the model's labels are: {', '.join(model_labels)}"
            )


@dataclass(frozen=True)
class Windowing:
    """Window and hop in samples at the model's rate, and the shortest input of the network."""

    window: int
    hop: int
    min_samples: int
    sample_rate: int

    @property
    def window_s(self) -> float:
        return self.window / self.sample_rate

    @property
    def hop_s(self) -> float:
        return self.hop / self.sample_rate


def min_samples(model: Model) -> int:
    """Shortest window (samples) ``model`` accepts: its ``gabortag.min_samples``, else 1."""
    text = model.info.metadata.get(MIN_SAMPLES_KEY, "1")
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ModelError(
            f"model {model.name!r} has a bad {MIN_SAMPLES_KEY} {text!r}: expected an integer >= 1"
        )
    return value


def windowing(model: Model, options: SceneOptions) -> Windowing:
    """The window and hop of ``options`` for ``model``, in samples at its rate.

    Raises:
        ValueError: the window is shorter than the network accepts (``gabortag.min_samples``).
    """
    sr = model.sample_rate
    window = (
        model.info.receptive_field if options.window_s is None else round(options.window_s * sr)
    )
    if options.hop_s is None:
        hop = min(model.info.hop, window)
    else:
        hop = round(options.hop_s * sr)
    shortest = min_samples(model)
    if window < shortest:
        raise ValueError(
            f"a window of {window / sr:g} s is shorter than the {shortest / sr:g} s that model "
            f"{model.name!r} needs at least"
        )
    if hop < 1:
        raise ValueError(f"a hop of {options.hop_s:g} s is shorter than one sample at {sr} Hz")
    return Windowing(window, hop, shortest, sr)


def short_tail(length: int, window: int) -> bool:
    """Whether a truncated last window of ``length`` samples is too short to be a window of
    its own (shorter than :data:`MIN_TAIL_FRACTION` of ``window``)."""
    return length < MIN_TAIL_FRACTION * window


def window_spans(n_samples: int, window: int, hop: int) -> list[tuple[int, int]]:
    """``[start, end)`` sample indices of the analysis windows of ``n_samples`` samples.

    Windows start at ``0, hop, 2·hop, ...``; the last is the first whose end reaches
    ``n_samples``, truncated to it, unless it is shorter than half a window (:func:`short_tail`)
    and another window precedes it: then the previous window is extended to ``n_samples``
    (``hop <= window``) or, when the windows leave gaps (``hop > window``), the short one is
    dropped. ``n_samples <= 0`` gives no window; ``window`` and ``hop`` are >= 1.
    """
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1 sample, got {window} and {hop}")
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n_samples:
        spans.append((start, min(start + window, n_samples)))
        if start + window >= n_samples:
            break
        start += hop
    if len(spans) > 1 and short_tail(spans[-1][1] - spans[-1][0], window):
        spans.pop()
        if hop <= window:
            spans[-1] = (spans[-1][0], n_samples)
    return spans


def iter_windows(
    blocks: Iterable[np.ndarray], window: int, hop: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, samples)`` of each analysis window of the concatenated 1-D ``blocks``.

    The windows are those of :func:`window_spans` of the total length, in order, whatever the
    block sizes; each is float32 and holds ``end - start`` samples (the last may be shorter
    than ``window``, or longer when a short tail was merged into it). The last complete window
    is held back until the next one completes or the audio ends (a short tail may extend it),
    so only the samples from its start on are kept between blocks.
    """
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1 sample, got {window} and {hop}")
    buffer = np.zeros(0, np.float32)
    offset = 0  # sample index of buffer[0]
    start = 0  # start of the next window
    total = 0  # samples seen
    held: int | None = None  # start of the last complete window, not yielded yet
    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        total += len(block)
        buffer = np.concatenate([buffer, block])
        while start + window <= total:
            if held is not None:
                yield held, buffer[held - offset : held - offset + window].copy()
            held = start
            start += hop
        keep = start if held is None else held
        drop = min(keep - offset, len(buffer))
        buffer, offset = buffer[drop:], offset + drop
    # the truncated last window, when the windows so far do not reach the end
    tail = start < total and (held is None or held + window < total)
    if held is not None:
        if tail and short_tail(total - start, window):
            end = total if hop <= window else held + window  # merged, or dropped
            yield held, buffer[held - offset : end - offset].copy()
            return
        yield held, buffer[held - offset : held - offset + window].copy()
    if tail:
        yield start, buffer[start - offset :].copy()


def score_windows(
    model: Model,
    blocks: Iterable[np.ndarray],
    windows: Windowing,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, end, scores)`` of each window of the mono ``blocks`` at the model's rate.

    ``start``, ``end`` are sample indices (:func:`window_spans`); ``scores`` is float32
    ``(n_classes,)``. Windows are batched, about ``chunk_seconds`` of audio per network call;
    a window shorter than the window length (or ``windows.min_samples``) is filled by
    repetition, and a last window that took in a short tail is scored alone at its length (see
    the module docstring).
    The batches depend only on the windows, so any block sizes give the same scores.
    """
    size = max(windows.window, windows.min_samples)
    per_call = max(1, round(chunk_seconds * windows.sample_rate) // size)
    n_labels = len(model.info.labels)
    pending: list[tuple[int, np.ndarray]] = []

    def run(
        batch: list[tuple[int, np.ndarray]], width: int
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        x = np.zeros((len(batch), width), np.float32)
        for row, (_, samples) in enumerate(batch):
            x[row] = np.resize(samples, width)  # repeats a short window to fill the row
        scores = model.run(x)
        if scores.shape != (len(batch), n_labels):
            raise ModelError(
                f"model {model.name!r} gave scores of shape {scores.shape} for a batch of "
                f"shape {x.shape}; a {TASK} model gives (batch, {n_labels}), one score per label"
            )
        for (start, samples), row_scores in zip(batch, scores.astype(np.float32), strict=True):
            yield start, start + len(samples), row_scores

    for start, samples in iter_windows(blocks, windows.window, windows.hop):
        if len(samples) > size:  # the last window, with a short tail merged in: at its length
            if pending:
                yield from run(pending, size)
                pending = []
            yield from run([(start, samples)], len(samples))
            continue
        pending.append((start, samples))
        if len(pending) == per_call:
            yield from run(pending, size)
            pending = []
    if pending:
        yield from run(pending, size)


def top_labels(
    scores: np.ndarray,
    labels: Sequence[str],
    considered: Sequence[int],
    top_k: int,
    min_score: float,
) -> tuple[SceneLabel, ...]:
    """The labels reported for one window's ``scores`` ``(n_classes,)``: among the indices
    ``considered``, the ``top_k`` highest scores (ties: the model's label order) that reach
    ``min_score``, highest first."""
    ranked = sorted(considered, key=lambda i: (-float(scores[i]), i))[:top_k]
    return tuple(SceneLabel(labels[i], float(scores[i])) for i in ranked if scores[i] >= min_score)


class ClipScores:
    """A file's class scores: its windows' scores ``(n_classes,)`` averaged with weights equal
    to the windows' lengths (samples), so that each window counts for the audio it covers.

    ``gabortag scenes`` reports their arg-max as a file's ``top`` label and ranks its summary by
    them; ``gabortag eval scenes`` scores the same arg-max (one computation for both).
    """

    def __init__(self) -> None:
        self._sum: np.ndarray | None = None
        self._weight = 0

    def add(self, start: int, end: int, scores: np.ndarray) -> None:
        """Add the ``scores (n_classes,)`` of the window ``[start, end)`` (samples)."""
        weighted = np.asarray(scores, np.float64) * (end - start)
        self._sum = weighted if self._sum is None else self._sum + weighted
        self._weight += end - start

    def mean(self) -> np.ndarray | None:
        """The weighted mean, float32 ``(n_classes,)``; ``None`` when no window was added."""
        if self._sum is None or self._weight <= 0:
            return None
        out: np.ndarray = (self._sum / self._weight).astype(np.float32)
        return out


def best_label(scores: np.ndarray, considered: Iterable[int]) -> int:
    """Index of the highest of ``scores (n_classes,)`` among the indices ``considered`` (ties:
    the first in the model's label order): a file's ``top`` label, and the prediction that
    ``gabortag eval scenes`` scores."""
    return min(considered, key=lambda i: (-float(scores[i]), i))


def summarize(
    windows: Sequence[SceneWindow], scores: Mapping[str, float], best: int = 3
) -> tuple[LabelSummary, ...]:
    """Per-label summary of ``windows`` (sorted by start): each label's file score (from
    ``scores``, the :class:`ClipScores` by label; 0 when absent), the union duration of the
    windows reporting it, their count and the ``best`` strongest of them; highest file score
    first (ties: longest duration, then name)."""
    spans: dict[str, list[ScoredSpan]] = {}
    for w in windows:
        for lab in w.labels:
            spans.setdefault(lab.label, []).append(ScoredSpan(w.start, w.end, lab.score))
    out = []
    for label, found in spans.items():
        strongest = sorted(found, key=lambda s: (-s.score, s.start))
        out.append(
            LabelSummary(
                label,
                union_length(found),
                len(found),
                tuple(strongest[:best]),
                float(scores.get(label, 0.0)),
            )
        )
    return tuple(sorted(out, key=lambda s: (-s.score, -s.duration, s.label)))


def union_length(spans: Iterable[ScoredSpan]) -> float:
    """Seconds covered by the union of ``spans`` (sorted by start): overlaps count once."""
    total = 0.0
    lo = hi = -math.inf
    for span in spans:
        if span.start > hi:
            total += hi - lo if hi > lo else 0.0
            lo, hi = span.start, span.end
        else:
            hi = max(hi, span.end)
    return total + (hi - lo if hi > lo else 0.0)


def default_options(model: Model) -> SceneOptions:
    """The options stored in ``model``'s ``gabortag.postprocess`` metadata, else the generic
    ones (window and hop: the model's)."""
    return model_options(SceneOptions, model)


def check_model(model: Model) -> Model:
    """``model`` itself if it is a scenes model with labels, else ``ModelError``."""
    check_task(model, TASK)
    labels = model.info.labels
    if not labels or len(set(labels)) != len(labels):
        raise ModelError(
            f"model {model.name!r} has labels {json.dumps(list(labels))}; a {TASK} model needs "
            "at least one label, each named once"
        )
    min_samples(model)
    return model


def resolve_model(
    model: Model | str | Path, device: str = "cpu", threads: int | None = None
) -> Model:
    """A loaded scenes model from a :class:`Model`, a bundled name or an ``.onnx`` path;
    ``ModelError`` when it cannot be loaded or is not a scenes model."""
    return check_model(as_model(model, device, threads))


def tag_scenes(
    source: str | Path | np.ndarray,
    sample_rate: int | None = None,
    *,
    model: Model | str | Path = TASK,
    options: SceneOptions | None = None,
    device: str = "cpu",
    threads: int | None = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
) -> SceneResult:
    """Sound-scene labels of each analysis window of an audio file, ``"-"`` (stdin) or an array.

    Args:
        source: a path to any file soundfile reads (any rate and channel count), ``"-"``, or
            a float array ``(samples,)`` or ``(samples, channels)`` (an empty one gives an
            empty result).
        sample_rate: rate in Hz of ``source`` when it is an array (required then).
        model: a loaded :class:`~gabortag.inference.Model`, a bundled model name or an ``.onnx``.
        options: windows and label selection; ``None`` uses the model's defaults (its metadata).
        chunk_seconds: about this much audio per network call (several windows per call).

    Returns:
        a :class:`~gabortag.tasks.results.SceneResult`: every window with its labels (times in
        seconds; the last window ends at ``duration``), the file's ``top`` label (the
        :class:`ClipScores` arg-max among the labels considered, as ``gabortag eval scenes``
        computes it) and the per-label summary, ranked by the same file scores.

    Raises:
        AudioError: the input cannot be read (message: ``"path: reason"``).
        ModelError: the model cannot be loaded or is not a scenes model.
        ValueError: ``options`` name a label the model does not have, or a window shorter
            than the model accepts; ``sample_rate`` missing for an array or given for a file.
    """
    m = resolve_model(model, device, threads)
    opts = options or default_options(m)
    labels = m.info.labels
    opts.check_labels(labels)
    windows = windowing(m, opts)
    considered = [i for i, name in enumerate(labels) if opts.labels is None or name in opts.labels]
    if isinstance(source, np.ndarray) and source.shape[:1] == (0,):
        if sample_rate is None:
            raise ValueError("an array needs its sample_rate (Hz)")
        channels = source.shape[1] if source.ndim == 2 else 1
        return _result(ARRAY_NAME, 0.0, m, windows, (), int(sample_rate), channels, opts.best)
    audio = open_input(source, m.sample_rate, sample_rate)
    counted = _Counted(audio.blocks)
    found: list[tuple[int, int, tuple[SceneLabel, ...]]] = []
    clip = ClipScores()
    for start, end, scores in score_windows(m, counted, windows, chunk_seconds):
        reported = top_labels(scores, labels, considered, opts.top_k, opts.min_score)
        found.append((start, end, reported))
        clip.add(start, end, scores)
    if audio.array is None:
        forget(source)  # type: ignore[arg-type]
    info = audio.info
    sr = m.sample_rate

    def seconds(sample: int) -> float:
        """Time of a sample index, the end of the audio being the file's duration."""
        return info.duration if sample >= counted.total else min(sample / sr, info.duration)

    result_windows = tuple(
        SceneWindow(seconds(start), seconds(end), reported) for start, end, reported in found
    )
    return _result(
        audio.name,
        info.duration,
        m,
        windows,
        result_windows,
        info.sample_rate,
        info.channels,
        opts.best,
        clip.mean(),
        considered,
    )


def _result(
    name: str,
    duration: float,
    model: Model,
    windows: Windowing,
    found: tuple[SceneWindow, ...],
    sample_rate: int,
    channels: int,
    best: int,
    clip: np.ndarray | None = None,
    considered: Sequence[int] = (),
) -> SceneResult:
    """The result of one input; ``clip``: its :class:`ClipScores` mean (``None``: no window),
    whose arg-max among ``considered`` is the ``top`` label."""
    labels = model.info.labels
    top = None
    scores: dict[str, float] = {}
    if clip is not None:
        i = best_label(clip, considered)
        top = SceneLabel(labels[i], float(clip[i]))
        scores = {labels[j]: float(clip[j]) for j in considered}
    return SceneResult(
        path=name,
        duration=duration,
        model=model.name,
        window=windows.window_s,
        hop=windows.hop_s,
        windows=found,
        summary=summarize(found, scores, best),
        sample_rate=sample_rate,
        channels=channels,
        provider=model.provider,
        top=top,
    )


class _Counted:
    """Iterates over 1-D blocks, counting their samples in :attr:`total`."""

    def __init__(self, blocks: Iterable[np.ndarray]) -> None:
        self.blocks = blocks
        self.total = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self.blocks:
            self.total += len(block)
            yield block


def build_processor(spec: TaskSpec) -> Processor:
    """The batch processor of a ``scenes`` spec (the registry's builder): the model, checked,
    and ``process(item) -> SceneResult`` with the spec's options over the model's defaults.

    Raises:
        ModelError: the model cannot be loaded or is not a scenes model.
        OptionError: ``labels`` names a label the model lacks, or ``window_s`` / ``hop_s``
            do not fit the model.
        ValueError: another option is out of range (its message names the option).
    """
    from ...batch.spec import Processor

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
        raise OptionError("labels", str(err)) from None
    try:
        windowing(m, opts)
    except ValueError as err:
        raise OptionError("window_s", f"{{window_s}}/{{hop_s}}: {err}", ("hop_s",)) from None

    def process(item: InputItem) -> SceneResult:
        return tag_scenes(item.source, model=m, options=opts)

    return Processor(m, process)
