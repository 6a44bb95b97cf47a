"""Properties over random recordings, sample rates, channel counts and block sizes.

* Streaming is exact: a file read in blocks of any size and scored in chunks gives the scores,
  segments and events of the whole waveform scored at once with the same chunk size (and
  scores within 1e-5 of any other chunk size).
* Segments are sorted, non-overlapping and inside ``[0, duration]``, whatever the options.
* Every writer's output parses back to the same segments or events (RTTM and Raven tables
  through gabortag's own annotation readers).

The recordings are crops of the bundled speech clip (so that there is speech, and calls of
some sort), with gain, noise and a random channel mix, at a random rate.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import gabortag.tasks.birdcalls.api
from gabortag.inference import Model, load_model
from gabortag.io.annotations import read_event_annotations, read_rttm
from gabortag.io.audio import Input, load_audio, open_stream
from gabortag.io.formats import FORMATS, formats, get_writer, rttm_uri
from gabortag.tasks.birdcalls.api import detect_calls
from gabortag.tasks.results import EventResult, VadResult
from gabortag.tasks.vad.api import detect_speech
from gabortag.tasks.vad.decode import VadOptions

from test_writers import check_one  # isort: skip
from _paths import SPEECH  # isort: skip

RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TOL = 1e-3 + 1e-9  # the coarsest rounding of a writer: the millisecond


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    data, rate = sf.read(str(SPEECH), dtype="float32")
    assert rate == 16_000
    return np.asarray(data)


@pytest.fixture(scope="module")
def vad() -> Model:
    return load_model("vad", threads=1)


@pytest.fixture(scope="module")
def bird(bird_model: str) -> Model:
    return load_model(bird_model, threads=1)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@st.composite
def recordings(draw: st.DrawFn, speech: np.ndarray) -> tuple[np.ndarray, int]:
    """``(samples (n, channels) float32, rate)``: a crop of the speech clip, resampled."""
    rate = draw(st.sampled_from(RATES))
    # Mostly seconds from around the clip's two sentences (1.5-3.8 s, 5.8-7.4 s), sometimes
    # a few samples.
    start = draw(st.sampled_from([0, 24_000, 40_000, 92_000, 100_000])) + draw(st.integers(0, 8000))
    length = draw(st.one_of(st.integers(1, 1600), st.integers(16_000, 3 * 16_000)))
    crop = speech[start : start + length] * draw(st.floats(0.3, 2.0))
    if rate != 16_000:
        crop = soxr.resample(crop, 16_000, rate)
    channels = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mix = rng.uniform(0.2, 1.0, channels)
    data = crop[:, None] * mix + draw(st.floats(0.0, 0.05)) * rng.standard_normal((len(crop), 1))
    if not len(data):
        data = np.zeros((1, channels))
    return np.clip(data, -1, 1).astype(np.float32), rate


block_seconds = st.one_of(st.floats(0.001, 0.01), st.floats(0.01, 4.0))
chunk_seconds = st.floats(0.02, 4.0)


@st.composite
def vad_options(draw: st.DrawFn) -> VadOptions:
    onset = draw(st.floats(0.05, 0.95))
    return VadOptions(
        onset=onset,
        offset=draw(st.floats(0.0, onset)),
        min_speech=draw(st.sampled_from([0.0, draw(st.floats(0.0, 0.3))])),
        min_silence=draw(st.sampled_from([0.0, draw(st.floats(0.0, 0.5))])),
        pad=draw(st.sampled_from([0.0, draw(st.floats(0.0, 0.5))])),
    )


def concat(parts: Iterable[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.zeros(0, np.float32), *parts])


def check_spans(spans: list[tuple[float, float]], duration: float) -> None:
    """Sorted, non-overlapping, non-empty, inside ``[0, duration]``."""
    edges = [0.0, *(t for span in spans for t in span), duration]
    assert edges == sorted(edges), spans
    assert all(start < end for start, end in spans), spans


# --------------------------------------------------------------------------- vad


@SETTINGS
@given(data=st.data(), blocks=block_seconds, chunk=chunk_seconds, options=vad_options())
def test_vad_streamed_file_equals_whole_waveform(
    speech: np.ndarray,
    vad: Model,
    scratch: Path,
    data: st.DataObject,
    blocks: float,
    chunk: float,
    options: VadOptions,
) -> None:
    samples, rate = data.draw(recordings(speech))
    path = scratch / "vad.wav"
    sf.write(str(path), samples, rate, subtype="FLOAT")
    whole, info = load_audio(samples, vad.sample_rate, sample_rate=rate)

    _, stream = open_stream(path, vad.sample_rate, block_seconds=blocks)
    streamed = concat(vad.score_stream(stream, chunk))
    np.testing.assert_array_equal(streamed, vad.score(whole, chunk))  # the same windows
    np.testing.assert_allclose(streamed, vad.score(whole), atol=1e-5)  # other windows
    assert np.isfinite(streamed).all() and ((streamed >= 0) & (streamed <= 1)).all()

    from_file = detect_speech(path, model=vad, options=options, chunk_seconds=chunk)
    from_array = detect_speech(samples, rate, model=vad, options=options, chunk_seconds=chunk)
    assert from_file.segments == from_array.segments
    assert from_file.duration == from_array.duration == info.duration == len(samples) / rate
    event(f"segments: {min(len(from_file.segments), 2)}+")
    check_spans([(s.start, s.end) for s in from_file.segments], from_file.duration)
    for fmt in FORMATS:
        check_one(fmt, from_file)


# --------------------------------------------------------------------------- birdcalls


def recut(blocks: Iterable[np.ndarray], cuts: list[int]) -> Iterator[np.ndarray]:
    """The samples of ``blocks`` again, in blocks of the sizes ``cuts`` (cycled)."""
    samples = concat(blocks)
    start, i = 0, 0
    while start < len(samples):
        yield samples[start : start + cuts[i % len(cuts)]]
        start += cuts[i % len(cuts)]
        i += 1


@contextmanager
def blocks_cut_at(cuts: list[int]) -> Iterator[None]:
    """Make :func:`detect_calls` read files in blocks of the sizes ``cuts``, both passes."""
    real_input, real_stream = (
        gabortag.tasks.birdcalls.api.open_input,
        gabortag.tasks.birdcalls.api.open_stream,
    )

    def open_input(*args: Any, **kwargs: Any) -> Input:
        opened = real_input(*args, **kwargs)
        return replace(opened, blocks=recut(opened.blocks, cuts))

    def open_stream_(*args: Any, **kwargs: Any) -> tuple[Any, Iterator[np.ndarray]]:
        info, blocks = real_stream(*args, **kwargs)
        return info, recut(blocks, cuts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gabortag.tasks.birdcalls.api, "open_input", open_input)
        patch.setattr(gabortag.tasks.birdcalls.api, "open_stream", open_stream_)
        yield


@SETTINGS
@given(
    data=st.data(),
    cuts=st.lists(st.integers(1, 40_000), min_size=1, max_size=8),
    chunk=chunk_seconds,
)
def test_birdcalls_streamed_file_equals_whole_waveform(
    speech: np.ndarray,
    bird: Model,
    scratch: Path,
    data: st.DataObject,
    cuts: list[int],
    chunk: float,
) -> None:
    samples, rate = data.draw(recordings(speech))
    path = scratch / "calls.wav"
    sf.write(str(path), samples, rate, subtype="FLOAT")
    with blocks_cut_at(cuts):
        from_file = detect_calls(path, model=bird, chunk_seconds=chunk)
    from_array = detect_calls(samples, rate, model=bird, chunk_seconds=chunk)
    assert from_file.duration == from_array.duration == len(samples) / rate
    assert len(from_file.events) == len(from_array.events)
    for got, want in zip(from_file.events, from_array.events, strict=True):
        # The band sums the same spectra in other groups: equal up to rounding.
        assert (got.low_freq, got.high_freq) == pytest.approx((want.low_freq, want.high_freq))
        assert replace(got, low_freq=0, high_freq=0) == replace(want, low_freq=0, high_freq=0)
    event(f"events: {min(len(from_file.events), 2)}+")
    check_spans([(e.start, e.end) for e in from_file.events], from_file.duration)
    for e in from_file.events:
        assert 0 <= e.confidence <= 1 and 0 <= e.low_freq <= e.high_freq <= bird.sample_rate / 2
        assert e.label in bird.info.labels[1:]
    check_events_round_trip(scratch, from_file)


# --------------------------------------------------------------------------- event writers


def written(fmt: str, results: list[EventResult]) -> str:
    buf = io.StringIO()
    writer = get_writer(fmt, "birdcalls")
    writer.begin(buf, n_files=len(results))
    for result in results:
        writer.write_item(result, buf)
    writer.end(buf)
    return buf.getvalue()


def read_back(fmt: str, text: str, scratch: Path, path: str) -> list[tuple[Any, ...]]:
    """``(file, start, end, label, confidence, low, high)`` of every event in ``text``
    (``None`` where the format does not hold the field)."""
    if fmt in ("json", "jsonl"):
        docs = json.loads(text)["files"] if fmt == "json" else map(json.loads, text.splitlines())
        return [
            (r.path, e.start, e.end, e.label, e.confidence, e.low_freq, e.high_freq)
            for r in map(EventResult.from_dict, docs)
            for e in r.events
        ]
    if fmt == "csv":
        return [
            (
                row["path"],
                *(float(row[k]) for k in ("start", "end")),
                row["label"],
                *(float(row[k]) for k in ("confidence", "low_freq", "high_freq")),
            )
            for row in csv.DictReader(io.StringIO(text))
        ]
    if fmt == "audacity":
        return [
            (None, float(start), float(end), label, None, None, None)
            for start, end, label in (line.split("\t") for line in text.splitlines())
        ]
    table = scratch / "table.selections.txt"  # Raven: through the training reader
    table.write_text(text, encoding="utf-8")
    if "Begin File" in text.partition("\n")[0]:
        events = read_event_annotations(table)
    else:
        events = read_event_annotations(table, file=path)
    return [(e.file, e.onset_s, e.offset_s, e.label, None, None, None) for e in events]


def check_events_round_trip(scratch: Path, result: EventResult) -> None:
    other = replace(result, path="other.wav", events=result.events[::2])
    for fmt in formats("birdcalls"):
        for results in ([result], [result, other]):
            want = [
                (r.path, e.start, e.end, e.label, e.confidence, e.low_freq, e.high_freq)
                for r in results
                for e in r.events
            ]
            got = read_back(fmt, written(fmt, results), scratch, result.path)
            assert len(got) == len(want), fmt
            for g, w in zip(got, want, strict=True):
                assert g[0] in (None, w[0]) and g[3] == w[3], (fmt, g, w)
                assert g[1:3] == pytest.approx(w[1:3], abs=TOL), (fmt, g, w)
                if g[4] is not None:
                    assert g[4] == pytest.approx(w[4], abs=1e-4)
                    assert g[5:] == pytest.approx(w[5:], abs=0.05 + 1e-9)


# --------------------------------------------------------------------------- rttm


@SETTINGS
@given(data=st.data(), options=vad_options())
def test_rttm_reads_back_through_the_reference_reader(
    speech: np.ndarray, vad: Model, scratch: Path, data: st.DataObject, options: VadOptions
) -> None:
    """Two files in one RTTM: gabortag's own reference reader gets their segments back."""
    results: list[VadResult] = []
    for name in ("a b.wav", "c.flac"):
        samples, rate = data.draw(recordings(speech))
        result = detect_speech(samples, rate, model=vad, options=options)
        results.append(replace(result, path=f"dir/{name}"))
    buf = io.StringIO()
    writer = get_writer("rttm")
    writer.begin(buf, n_files=2)
    for result in results:
        writer.write_item(result, buf)
    writer.end(buf)
    table = scratch / "speech.rttm"
    table.write_text(buf.getvalue(), encoding="utf-8")
    turns = read_rttm(table)
    for result in results:
        got = turns.get(rttm_uri(result.path), [])
        want = [(s.start, s.end) for s in result.segments]
        assert len(got) == len(want)
        assert [t for span in got for t in span] == pytest.approx(
            [t for span in want for t in span], abs=TOL
        )
