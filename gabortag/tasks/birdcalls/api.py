"""Bird calls: audio in, typed events with their frequency band out (the library entry point).

Two passes over the input, both streamed so that memory stays flat for long files:

1. the model scores the audio chunk by chunk; only the *call frames* (those that can belong to
   an event, see :mod:`gabortag.tasks.birdcalls.decode`) are kept, and decoded into events at
   the end;
2. the audio is streamed again (a file is re-opened; standard input and pipes are cached by
   :mod:`gabortag.io.audio`, an array is reused) and the power spectrum of each event is summed
   from the blocks it overlaps (:class:`~.bands.PowerSpectrum`), giving its low and high
   frequency. This pass is skipped when there is no event.

With ``segments_only``, the first pass also computes the band-energy envelope of the audio as
it streams by, and keeps every frame's call probability; the segments are decided from both
at the end of the recording (:mod:`gabortag.tasks.birdcalls.segments`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ModelError, OptionError
from ...inference import DEFAULT_CHUNK_SECONDS, Model, as_model, check_task
from ...io.audio import forget, open_input, open_stream
from ..base import model_options
from ..results import Event, EventResult, FrameScores
from .bands import PowerSpectrum, central_band, check_band
from .decode import BACKGROUND, Detection, EventOptions, call_frames, decode_call_frames
from .segments import BandEnvelope, SegmentOptions, segment

if TYPE_CHECKING:
    from ...batch.spec import Processor, TaskSpec
    from ...io.discover import InputItem

TASK = "birdcalls"


def default_options(model: Model) -> EventOptions:
    """The decision options stored in ``model``'s metadata, else the generic ones."""
    return model_options(EventOptions, model)


def check_model(model: Model) -> Model:
    """``model`` itself if it is a bird-call model (task, labels), else ``ModelError``."""
    check_task(model, TASK)
    labels = model.info.labels
    if len(labels) < 2 or labels[0] != BACKGROUND:
        raise ModelError(
            f"model {model.name!r} has labels {list(labels)}; a {TASK} model needs "
            f"{BACKGROUND!r} first, then at least one call type"
        )
    return model


def frequency_band(model: Model) -> tuple[float, float]:
    """``(f_min, f_max)`` Hz searched for the events' bands: the model's ``gabortag.freq_range``
    metadata, clipped to its Nyquist frequency (the whole band when absent)."""
    text = model.info.metadata.get("gabortag.freq_range")
    try:
        f_min, f_max = (0.0, model.sample_rate / 2) if text is None else json.loads(text)
        return check_band(float(f_min), float(f_max), model.sample_rate)
    except (TypeError, ValueError) as err:
        raise ModelError(
            f"model {model.name!r} has a bad gabortag.freq_range {text!r}: expected "
            "[f_min, f_max] in Hz"
        ) from err


def resolve_model(
    model: Model | str | Path, device: str = "cpu", threads: int | None = None
) -> Model:
    """A loaded bird-call model from a :class:`Model`, a bundled name or an ``.onnx`` path."""
    return check_model(as_model(model, device, threads))


def _bands(
    blocks: Iterable[np.ndarray],
    detections: Sequence[Detection],
    sample_rate: int,
    band: tuple[float, float],
) -> list[tuple[float, float]]:
    """``(low, high)`` Hz of each detection (sorted, non-overlapping) from one pass over the
    mono ``blocks`` at ``sample_rate``; only the spectra of the events under way are kept."""
    spans = [(round(d.start * sample_rate), round(d.end * sample_rate)) for d in detections]
    bands = [band] * len(spans)
    under_way: dict[int, PowerSpectrum] = {}
    nxt = 0  # the first detection not reached yet
    offset = 0  # samples before the current block
    for block in blocks:
        stop = offset + len(block)
        while nxt < len(spans) and spans[nxt][0] < stop:
            under_way[nxt] = PowerSpectrum(sample_rate)
            nxt += 1
        for i in list(under_way):
            first, last = spans[i]
            under_way[i].add(block[max(first - offset, 0) : max(last - offset, 0)])
            if last <= stop:
                bands[i] = _band_of(under_way.pop(i), band)
        offset = stop
    for i, spectrum in under_way.items():  # events reaching past the last decoded sample
        bands[i] = _band_of(spectrum, band)
    return bands


def _band_of(spectrum: PowerSpectrum, band: tuple[float, float]) -> tuple[float, float]:
    return central_band(spectrum.finish(), spectrum.freqs, *band)


def detect_calls(
    source: str | Path | np.ndarray,
    sample_rate: int | None = None,
    *,
    model: Model | str | Path = TASK,
    options: EventOptions | None = None,
    device: str = "cpu",
    threads: int | None = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    return_scores: bool = False,
    segments_only: bool = False,
    segment_options: SegmentOptions | None = None,
) -> EventResult:
    """Bird calls of an audio file, ``"-"`` (stdin) or an array: typed events with their band.

    ``source`` (a file any rate and channel count, ``"-"``, or an array at ``sample_rate``),
    ``model``, ``device``, ``threads`` and ``chunk_seconds`` are as for
    :func:`gabortag.detect_speech` (``sample_rate`` is refused for a file); ``options``
    ``None`` uses the model's defaults (its metadata); ``return_scores`` also returns each
    frame's call probability ``1 − p(background)`` (one float per hop, kept while streaming);
    ``segments_only`` gives type-agnostic segments labelled
    :data:`~.decode.SEGMENT_LABEL` instead of typed events, by the rule of
    :mod:`~.segments` with ``segment_options`` (``None``: its defaults; ``options`` then
    play no part).

    Returns:
        an :class:`~gabortag.tasks.results.EventResult`: events sorted, non-overlapping, inside
        ``[0, duration]``, decoded as :mod:`~.decode` (or :mod:`~.segments`) documents,
        each with the band
        holding 90 % of its energy inside the model's frequency range
        (:mod:`gabortag.tasks.birdcalls.bands`).

    Raises:
        AudioError: the input cannot be read (message: ``"path: reason"``).
        ModelError: the model cannot be loaded or is not a bird-call model.
        ValueError: ``options`` name a call type the model does not have; ``sample_rate``
            missing for an array or given for a file.
    """
    m = resolve_model(model, device, threads)
    opts = options or default_options(m)
    labels = m.info.labels
    opts.check_labels(labels)
    band = frequency_band(m)
    audio = open_input(source, m.sample_rate, sample_rate)
    info, blocks, name, wav = audio.info, audio.blocks, audio.name, audio.array
    kept_idx, kept_probs = [np.zeros(0, np.int64)], [np.zeros((0, len(labels)), np.float32)]
    call_probs: list[np.ndarray] = []
    envelope: BandEnvelope | None = None
    seg_opts = segment_options or SegmentOptions()
    if segments_only:
        envelope = BandEnvelope(m.sample_rate, seg_opts.low_freq, seg_opts.high_freq)
        blocks = envelope.feed(blocks)
    frames = 0
    for scores in m.score_stream(blocks, chunk_seconds):
        if envelope is None:
            idx, probs = call_frames(scores, opts.min_confidence)
            kept_idx.append(idx + frames)
            kept_probs.append(probs)
        if return_scores or envelope is not None:
            call_probs.append(1.0 - scores[:, 0])
        frames += len(scores)
    if envelope is not None:
        detections = segment(
            envelope.finish(),
            envelope.step_s,
            np.concatenate(call_probs) if call_probs else np.zeros(0, np.float32),
            m.hop_seconds,
            info.duration,
            seg_opts,
        )
    else:
        detections = decode_call_frames(
            np.concatenate(kept_idx),
            np.concatenate(kept_probs),
            m.hop_seconds,
            info.duration,
            labels,
            opts,
        )
    bands: list[tuple[float, float]] = []
    if detections:
        again = [wav] if wav is not None else open_stream(source, m.sample_rate)[1]  # type: ignore[arg-type]
        bands = _bands(again, detections, m.sample_rate, band)
    if wav is None:
        forget(source)  # type: ignore[arg-type]
    return EventResult(
        path=name,
        duration=info.duration,
        model=m.name,
        provider=m.provider,
        events=tuple(
            Event(d.start, d.end, d.label, d.confidence, low, high)
            for d, (low, high) in zip(detections, bands, strict=True)
        ),
        sample_rate=info.sample_rate,
        channels=info.channels,
        scores=FrameScores(
            m.hop_seconds, tuple(np.concatenate(call_probs).tolist()) if call_probs else ()
        )
        if return_scores
        else None,
    )


def build_processor(spec: TaskSpec) -> Processor:
    """The batch processor of a ``birdcalls`` spec (the registry's builder): the model, checked,
    and ``process(item) -> EventResult`` with the spec's options over the model's defaults.

    Raises:
        ModelError: the model cannot be loaded or is not a bird-call model.
        OptionError: ``thresholds`` names a type the model lacks.
        ValueError: another option is out of range (its message names the option).
    """
    from ...batch.spec import Processor

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
        raise OptionError("thresholds", str(err)) from None
    scores = bool(spec.option("scores"))
    segments = bool(spec.option("segments_only"))
    seg_opts = SegmentOptions.from_dict(spec.option("segment_options") or {})

    def process(item: InputItem) -> EventResult:
        return detect_calls(
            item.source,
            model=m,
            options=opts,
            return_scores=scores,
            segments_only=segments,
            segment_options=seg_opts,
        )

    return Processor(m, process)
