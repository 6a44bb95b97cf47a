"""``gabortag birdcalls`` through the installed console script: formats, batches, exit codes.

Exit codes: 0 every input done, 1 some input failed, 2 usage error. The model is the bundled
``birdcalls`` one, else a tiny random network (see ``_bird_model``); ``--min-confidence 0``
makes every frame a call, so that any model gives events to compare across formats.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gabortag.io.formats import formats

from _cli_helpers import (  # isort: skip
    assert_bad_inputs_reported,
    assert_help,
    assert_resumes,
    assert_stdin_like_file,
    assert_usage_error,
    needs_script,
    run,
)

pytestmark = needs_script

ALL = ("--min-confidence", "0", "--min-duration", "0.05")
TOL = 1e-3 + 1e-9


def chirps(path: Path, sr: int, seconds: float = 2.0, seed: int = 0) -> Path:
    """Quiet noise with two rising chirps (2→5 kHz at 0.4 s, 4→7 kHz at 1.2 s), mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    x = 0.005 * rng.standard_normal(len(t))
    for begin, f0, f1 in ((0.4, 2000.0, 5000.0), (1.2, 4000.0, 7000.0)):
        inside = (t >= begin) & (t < begin + 0.25)
        u = t[inside] - begin
        x[inside] += 0.4 * np.sin(2 * np.pi * (f0 * u + (f1 - f0) * u**2 / 0.5))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sr)
    return path


@pytest.fixture
def clips(tmp_path: Path) -> list[str]:
    """Two recordings in the working folder: 44.1 kHz and 32 kHz."""
    chirps(tmp_path / "a44.wav", 44_100)
    chirps(tmp_path / "b32.flac", 32_000, seed=1)
    return ["a44.wav", "b32.flac"]


def events_of(doc: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    return {f["path"]: f["events"] for f in doc["files"]}  # type: ignore[attr-defined,index]


def as_tuples(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
    keys = ("start", "end", "low_freq", "high_freq", "label", "confidence")
    return [tuple(e[k] for k in keys) for e in events]


# --------------------------------------------------------------------------- formats


def test_json_default(tmp_path: Path, clips: list[str], bird_model: str) -> None:
    done = run("birdcalls", *clips, "-m", bird_model, *ALL, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema_version"] == "1.0" and doc["task"] == "birdcalls"
    assert doc["errors"] == []
    a, b = doc["files"]
    assert (a["path"], a["sample_rate"], b["path"], b["sample_rate"]) == (
        "a44.wav",
        44_100,
        "b32.flac",
        32_000,
    )
    for item in doc["files"]:
        assert item["duration"] == 2.0 and item["events"]
        for e in item["events"]:
            assert 0.0 <= e["start"] < e["end"] <= 2.0
            assert 0.0 <= e["confidence"] <= 1.0
            assert 0.0 <= e["low_freq"] < e["high_freq"] <= 16_000.0
            assert e["end"] - e["start"] >= 0.05 - TOL
    assert "2 inputs: 2 done, 0 skipped, 0 failed" in done.stderr


def test_scores_are_the_call_probabilities(
    tmp_path: Path, clips: list[str], bird_model: str
) -> None:
    """``--scores`` adds ``1 - p(background)`` per frame, what events are decided on, and each
    event's confidence is the mean of its frames' scores."""
    from gabortag.inference import load_model
    from gabortag.io.audio import load_audio

    plain = run("birdcalls", clips[1], "-m", bird_model, *ALL, cwd=tmp_path)
    done = run("birdcalls", clips[1], "-m", bird_model, *ALL, "--scores", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["files"]
    assert "scores" not in json.loads(plain.stdout)["files"][0]
    assert item["events"] == json.loads(plain.stdout)["files"][0]["events"]
    model = load_model(bird_model, threads=1)
    probs = model.score(load_audio(tmp_path / clips[1], model.sample_rate)[0])
    assert item["scores"]["hop"] == pytest.approx(model.hop_seconds)
    values = np.array(item["scores"]["values"])
    np.testing.assert_allclose(values, 1.0 - probs[:, 0], atol=1e-4)
    for e in item["events"]:
        lo, hi = round(e["start"] / model.hop_seconds), round(e["end"] / model.hop_seconds)
        assert e["confidence"] == pytest.approx(values[lo:hi].mean(), abs=2e-4)


@pytest.mark.parametrize("fmt", ["json", "csv", "raven", "audacity"])
def test_segments_only(tmp_path: Path, clips: list[str], bird_model: str, fmt: str) -> None:
    """``--segments-only``: type-agnostic 'vocalisation' segments in every format, one per
    chirp, with its edges (``test_segments`` checks the rule itself)."""
    done = run(
        "birdcalls", clips[1], "-m", bird_model, *ALL, "--min-bout", "0", "--segments-only",
        "-f", fmt, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if fmt != "json":
        assert done.stdout.count("vocalisation") == 2
        return
    (item,) = json.loads(done.stdout)["files"]
    segments = item["events"]
    assert {e["label"] for e in segments} == {"vocalisation"}
    edges = [x for e in segments for x in (e["start"], e["end"])]
    assert edges == pytest.approx([0.4, 0.65, 1.2, 1.45], abs=0.005)
    for e in segments:
        assert 0.0 <= e["low_freq"] < e["high_freq"] and 0.0 <= e["confidence"] <= 1.0


def parse(fmt: str, text: str) -> dict[str, list[tuple[object, ...]]]:
    """Events per path from the text of ``fmt``, as (start, end, low, high, label, conf)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    if fmt == "jsonl":
        for line in text.splitlines():
            record = json.loads(line)
            assert record["schema_version"] == "1.0"
            out[record["path"]] = as_tuples(record["events"])
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        for r in rows:
            values = (r["start"], r["end"], r["low_freq"], r["high_freq"])
            row = (*map(float, values), r["label"], float(r["confidence"]))
            out.setdefault(r["path"], []).append(row)
    elif fmt == "raven":
        reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
        rows = list(reader)
        assert "\t".join(reader.fieldnames or []) == (
            "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
            "High Freq (Hz)\tType\tConfidence\tBegin File"
        )
        assert [int(r["Selection"]) for r in rows] == list(range(1, len(rows) + 1))
        assert all(r["View"] == "Spectrogram 1" and r["Channel"] == "1" for r in rows)
        for r in rows:
            keys = ("Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)")
            row = (*(float(r[k]) for k in keys), r["Type"], float(r["Confidence"]))
            out.setdefault(r["Begin File"], []).append(row)
    else:
        raise AssertionError(fmt)
    return out


def assert_same_events(got: list[tuple[object, ...]], want: list[tuple[object, ...]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[4] == w[4]  # label
        assert g[:2] == pytest.approx(w[:2], abs=TOL)  # times
        assert g[2:4] == pytest.approx(w[2:4], abs=0.05 + 1e-9)  # Hz, to 0.1 Hz
        assert g[5] == pytest.approx(w[5], abs=1e-4)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "raven"])
def test_formats_parse_back_to_the_json_events(
    tmp_path: Path, clips: list[str], bird_model: str, fmt: str
) -> None:
    reference = run("birdcalls", *clips, "-m", bird_model, *ALL, "-q", cwd=tmp_path)
    want = {p: as_tuples(e) for p, e in events_of(json.loads(reference.stdout)).items()}

    done = run("birdcalls", *clips, "-m", bird_model, *ALL, "-f", fmt, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = parse(fmt, done.stdout)
    assert set(got) == set(want)
    for path in want:
        assert_same_events(got[path], want[path])

    target = {"jsonl": "all.jsonl", "csv": "all.csv", "raven": "all.selections.txt"}[fmt]
    to_file = run(
        "birdcalls", *clips, "-m", bird_model, *ALL, "-f", fmt, "-o", target, "-q", cwd=tmp_path
    )
    assert to_file.returncode == 0 and to_file.stdout == "" and to_file.stderr == ""
    assert (tmp_path / target).read_text(encoding="utf-8") == done.stdout


def test_audacity_labels(tmp_path: Path, clips: list[str], bird_model: str) -> None:
    reference = run("birdcalls", clips[1], "-m", bird_model, *ALL, "-q", cwd=tmp_path)
    (want,) = events_of(json.loads(reference.stdout)).values()
    done = run("birdcalls", clips[1], "-m", bird_model, *ALL, "-f", "audacity", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cols = [line.split("\t") for line in done.stdout.splitlines()]
    assert [c[2] for c in cols] == [e["label"] for e in want]
    got = [float(t) for c in cols for t in c[:2]]
    assert got == pytest.approx([e[k] for e in want for k in ("start", "end")], abs=TOL)


def test_raven_per_file_outputs_and_resume(
    tmp_path: Path, clips: list[str], bird_model: str
) -> None:
    chirps(tmp_path / "in" / "site1" / "x.wav", 44_100)
    chirps(tmp_path / "in" / "y.flac", 32_000)
    outputs = [
        tmp_path / "out" / "site1" / "x.selections.txt",
        tmp_path / "out" / "y.selections.txt",
    ]
    done = run("birdcalls", "in", "-m", bird_model, *ALL, "-f", "raven", "-o", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file()) == sorted(outputs)
    header = outputs[0].read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header[-1] == "Confidence"  # one file per table: no Begin File column

    assert_resumes(
        "birdcalls", "in", "-m", bird_model, "-f", "raven", "-o", "out", cwd=tmp_path, n_inputs=2
    )


def test_stdin_is_read_twice_from_its_cache(
    tmp_path: Path, clips: list[str], bird_model: str
) -> None:
    assert_stdin_like_file("birdcalls", clips[0], "events", "-m", bird_model, *ALL, cwd=tmp_path)


# --------------------------------------------------------------------------- options and errors


def test_options_reach_the_library(tmp_path: Path, clips: list[str], bird_model: str) -> None:
    done = run("birdcalls", clips[0], "-m", bird_model, "--min-confidence", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["events"] == []
    long_calls = ("birdcalls", clips[0], "-m", bird_model, "--min-confidence", "0")
    long_calls += ("--min-duration", "1.5")
    events = json.loads(run(*long_calls, cwd=tmp_path).stdout)["files"][0]["events"]
    assert events and all(e["end"] - e["start"] >= 1.5 for e in events)
    strict = [
        arg for label in {e["label"] for e in events} for arg in ("--threshold", f"{label}=1")
    ]
    done = run(*long_calls, *strict, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"][0]["events"] == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("chip", r"--threshold 'chip': expected LABEL=VALUE"),
        ("=0.5", r"--threshold '=0.5': expected LABEL=VALUE"),
        ("chip=", r"--threshold 'chip=': expected LABEL=VALUE"),
        ("chip=high", r"--threshold 'chip=high': 'high' is not a number"),
        ("chip=1.5", r"--threshold 'chip=1.5': 1.5 is not within \[0, 1\]"),
    ],
)
def test_threshold_syntax_errors(
    tmp_path: Path, clips: list[str], value: str, message: str
) -> None:
    # checked before any model is loaded: no -m needed
    assert_usage_error(run("birdcalls", clips[0], "--threshold", value, cwd=tmp_path), message)


def test_threshold_for_an_unknown_type_names_the_model_types(
    tmp_path: Path, clips: list[str], bird_model: str
) -> None:
    done = run("birdcalls", clips[0], "-m", bird_model, "--threshold", "nope=0.5", cwd=tmp_path)
    assert done.returncode == 2
    assert "--threshold: threshold for unknown call type 'nope'" in done.stderr
    assert "the model's call types are:" in done.stderr and done.stdout == ""
    twice = run("birdcalls", clips[0], "--threshold", "a=0.5", "--threshold", "a=0.6", cwd=tmp_path)
    assert twice.returncode == 2 and "'a' is given twice" in twice.stderr


def test_bad_file_in_a_batch(tmp_path: Path, clips: list[str], bird_model: str) -> None:
    doc = assert_bad_inputs_reported("birdcalls", clips, "-m", bird_model, *ALL, cwd=tmp_path)
    assert all(f["events"] for f in doc["files"])


def test_usage_errors(tmp_path: Path, clips: list[str], bird_model: str) -> None:
    done = run("birdcalls", clips[0], "-m", bird_model, "-f", "rttm", cwd=tmp_path)
    assert done.returncode == 2 and "'rttm'" in done.stderr
    assert all(fmt in done.stderr for fmt in formats("birdcalls"))
    done = run("birdcalls", clips[0], "-m", "vad", cwd=tmp_path)
    assert done.returncode == 2 and "'vad' model, not a birdcalls model" in done.stderr
    done = run("birdcalls", clips[0], "-m", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "unknown model 'nope'" in done.stderr
    done = run("birdcalls", "missing.wav", "-m", bird_model, cwd=tmp_path)
    assert done.returncode == 2 and "no audio to process" in done.stderr
    done = run("birdcalls", clips[0], "-m", bird_model, "--min-gap", "-1", cwd=tmp_path)
    assert done.returncode == 2


def test_help(tmp_path: Path) -> None:
    options = ("--min-confidence", "--min-duration", "--min-gap", "--threshold", "raven")
    assert_help("birdcalls", *options, cwd=tmp_path)


@pytest.mark.parametrize("fmt,target", [("csv", "calls.csv"), ("raven", "calls.selections.txt")])
def test_outputs_read_back_as_annotation_tables(
    tmp_path: Path,
    clips: list[str],
    bird_model: str,
    fmt: str,
    target: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model's csv or Raven output, corrected by hand, is the annotation table that trains
    or evaluates the next model: it reads back as the events the json output holds."""
    from gabortag.io.annotations import read_event_annotations

    reference = run("birdcalls", *clips, "-m", bird_model, *ALL, "-q", cwd=tmp_path)
    want = events_of(json.loads(reference.stdout))
    (tmp_path / "rec").mkdir()
    for clip in clips:
        (tmp_path / clip).rename(tmp_path / "rec" / clip)
    inputs = [f"rec/{c}" for c in clips]
    done = run("birdcalls", *inputs, "-m", bird_model, *ALL, "-f", fmt, "-o", target, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    read = read_event_annotations(tmp_path / target)
    assert {a.file for a in read} == set(inputs)
    for clip in clips:
        got = [(a.onset_s, a.offset_s, a.label) for a in read if a.file == f"rec/{clip}"]
        expected = [(e["start"], e["end"], e["label"]) for e in want[clip]]
        assert [g[2] for g in got] == [e[2] for e in expected]
        times = [t for g in got for t in g[:2]]
        assert times == pytest.approx([t for e in expected for t in e[:2]], abs=TOL)
    monkeypatch.chdir(tmp_path)
    inside = read_event_annotations(target, "rec")  # as `gabortag train birdcalls` reads it
    assert {a.file for a in inside} == set(clips)
