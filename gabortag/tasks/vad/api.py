"""Voice activity detection: audio in, speech segments out (the library entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...inference import DEFAULT_CHUNK_SECONDS, Model, as_model, check_task
from ...io.audio import forget, open_input
from ..base import model_options
from ..results import FrameScores, VadResult
from .decode import VadOptions, segments_from_scores

if TYPE_CHECKING:
    from ...batch.spec import Processor, TaskSpec
    from ...io.discover import InputItem


def default_options(model: Model) -> VadOptions:
    """The decision options tuned for ``model`` (from its metadata), else the generic ones."""
    return model_options(VadOptions, model)


def resolve_model(
    model: Model | str | Path, device: str = "cpu", threads: int | None = None
) -> Model:
    """A loaded voice activity model from a :class:`Model`, a bundled name or an ``.onnx`` path;
    ``ModelError`` when it cannot be loaded or is a model of another task."""
    return check_task(as_model(model, device, threads), "vad")


def detect_speech(
    source: str | Path | np.ndarray,
    sample_rate: int | None = None,
    *,
    model: Model | str | Path = "vad",
    options: VadOptions | None = None,
    return_scores: bool = False,
    device: str = "cpu",
    threads: int | None = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
) -> VadResult:
    """Speech segments of an audio file, ``"-"`` (stdin) or an array.

    Args:
        source: a path to any file soundfile reads (any rate and channel count), ``"-"``, or
            a float array ``(samples,)`` or ``(samples, channels)``.
        sample_rate: rate in Hz of ``source`` when it is an array (required then).
        model: a loaded :class:`~gabortag.inference.Model`, a bundled model name or an ``.onnx``.
        options: decision options; ``None`` uses the model's tuned defaults.
        return_scores: also return the frame probabilities.
        chunk_seconds: audio per network call; files are streamed, so memory stays flat.

    Returns:
        a :class:`~gabortag.tasks.results.VadResult` (times in seconds).

    Raises:
        AudioError: the input cannot be read (message: ``"path: reason"``).
        ModelError: the model cannot be loaded.
    """
    m = resolve_model(model, device, threads)
    opts = options or default_options(m)
    audio = open_input(source, m.sample_rate, sample_rate)
    info, label = audio.info, audio.name
    parts = list(m.score_stream(audio.blocks, chunk_seconds))
    if audio.array is None:
        forget(source)  # type: ignore[arg-type]
    probs = np.concatenate([np.zeros(0, np.float32), *parts])
    duration = info.duration
    segments = segments_from_scores(probs, m.hop_seconds, duration, opts)
    scores = FrameScores(m.hop_seconds, tuple(float(v) for v in probs)) if return_scores else None
    return VadResult(
        path=label,
        duration=duration,
        model=m.name,
        provider=m.provider,
        segments=tuple(segments),
        scores=scores,
        sample_rate=info.sample_rate,
        channels=info.channels,
    )


def build_processor(spec: TaskSpec) -> Processor:
    """The batch processor of a ``vad`` spec (the registry's builder): the model, checked, and
    ``process(item) -> VadResult`` with the spec's options over the model's defaults.

    Raises:
        ModelError: the model cannot be loaded or is not a voice activity model.
        ValueError: an option is out of range (its message names the option).
    """
    from ...batch.spec import Processor

    m = resolve_model(spec.model, device=spec.device, threads=spec.threads)
    names = ("onset", "offset", "min_speech", "min_silence", "pad")
    opts = default_options(m).with_overrides(**{k: spec.option(k) for k in names})
    scores = bool(spec.option("scores"))

    def process(item: InputItem) -> VadResult:
        return detect_speech(item.source, model=m, options=opts, return_scores=scores)

    return Processor(m, process)
