"""Writers round-trip through independent parsers (json, csv, a small TextGrid reader)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabortag.io.formats import EXTENSIONS, FORMATS, get_writer, rttm_uri
from gabortag.tasks.results import SCHEMA_VERSION, FrameScores, Segment, VadResult

TOL = 1e-3 + 1e-9  # formats round to the millisecond at worst

RESULTS = [
    VadResult(
        path="clips/a.wav",
        duration=8.0,
        model="vad-tiny",
        segments=(Segment(1.5, 3.25), Segment(5.0004, 7.9996)),
        sample_rate=16000,
        channels=1,
    ),
    VadResult(path="clips/silence.flac", duration=5.0, model="vad-tiny", segments=()),
    VadResult(
        path='dir/my clip é,"quoted".wav',
        duration=2.5,
        model="vad-tiny",
        segments=(Segment(0.0, 0.5), Segment(1.0, 2.5)),
        scores=FrameScores(0.01, (0.1, 0.9, 0.55559)),
        sample_rate=44100,
        channels=2,
    ),
]
CLIP_BY_URI = {rttm_uri(r.path): r for r in RESULTS}


# --- independent parsers --------------------------------------------------------------------


def parse_json(text: str) -> tuple[list[VadResult], list[dict[str, str]]]:
    doc = json.loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["tool"] == "gabortag" and doc["task"] == "vad"
    assert isinstance(doc["version"], str)
    return [VadResult.from_dict(d) for d in doc["files"]], doc["errors"]


def parse_jsonl(text: str) -> tuple[list[VadResult], list[dict[str, str]]]:
    results, errors = [], []
    for line in text.splitlines():
        d = json.loads(line)
        if "error" in d:
            errors.append(d)
        else:
            assert d.pop("schema_version") == SCHEMA_VERSION
            results.append(VadResult.from_dict(d))
    return results, errors


def parse_rttm(text: str) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for line in text.splitlines():
        f = line.split()
        assert len(f) == 10 and f[0] == "SPEAKER" and f[2] == "1" and f[7] == "speech"
        assert f[5] == f[6] == f[8] == f[9] == "<NA>"
        out.setdefault(f[1], []).append((float(f[3]), float(f[3]) + float(f[4])))
    return out


def parse_csv(text: str) -> dict[str, list[tuple[float, float]]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == ["path", "start", "end", "duration"]
    out: dict[str, list[tuple[float, float]]] = {}
    for row in reader:
        start, end = float(row["start"]), float(row["end"])
        assert float(row["duration"]) == pytest.approx(end - start, abs=1e-6)
        out.setdefault(row["path"], []).append((start, end))
    return out


def parse_audacity(text: str) -> list[tuple[float, float]]:
    out = []
    for line in text.splitlines():
        start, end, label = line.split("\t")
        assert label == "speech"
        out.append((float(start), float(end)))
    return out


_TG_HEADER = re.compile(
    r'^File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = (\S+) \nxmax = (\S+) \n'
    r"tiers\? <exists> \nsize = 1 \nitem \[\]: \n"
)
_TG_TIER = re.compile(
    r'item \[1\]:\n\s+class = "IntervalTier" \n\s+name = "speech" \n'
    r"\s+xmin = (\S+) \n\s+xmax = (\S+) \n\s+intervals: size = (\d+) \n"
)
_TG_INTERVAL = re.compile(
    r'intervals \[(\d+)\]:\n\s+xmin = (\S+) \n\s+xmax = (\S+) \n\s+text = "((?:[^"]|"")*)" \n'
)


def parse_textgrid(text: str) -> tuple[float, float, list[tuple[float, float, str]]]:
    """(xmin, xmax, intervals) of a long TextGrid with a single IntervalTier."""
    head = _TG_HEADER.match(text)
    tier = _TG_TIER.search(text)
    assert head is not None and tier is not None, text
    assert (head.group(1), head.group(2)) == (tier.group(1), tier.group(2))
    found = _TG_INTERVAL.findall(text)
    assert [int(i) for i, *_ in found] == list(range(1, int(tier.group(3)) + 1))
    intervals = [(float(lo), float(hi), t.replace('""', '"')) for _, lo, hi, t in found]
    return float(head.group(1)), float(head.group(2)), intervals


# --- helpers --------------------------------------------------------------------------------


def spans(result: VadResult) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in result.segments]


def assert_close(got: Sequence[tuple[float, float]], want: Sequence[tuple[float, float]]) -> None:
    assert len(got) == len(want), (got, want)
    for (a, b), (c, d) in zip(got, want, strict=True):
        assert abs(a - c) <= TOL and abs(b - d) <= TOL, ((a, b), (c, d))


def merged(segments: Sequence[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in segments:
        if out and a - out[-1][1] < gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def write_one(fmt: str, result: VadResult) -> str:
    buf = io.StringIO()
    get_writer(fmt).write_one(result, buf)
    return buf.getvalue()


def write_combined(fmt: str, results: Sequence[VadResult], errors: Sequence[str] = ()) -> str:
    buf = io.StringIO()
    writer = get_writer(fmt)
    writer.begin(buf)
    for i, result in enumerate(results):
        writer.write_item(result, buf)
        if i < len(errors):  # interleave failures with successes
            writer.write_error(errors[i], f"{errors[i]}: not audio", buf)
    for path in errors[len(results) :]:
        writer.write_error(path, f"{path}: not audio", buf)
    writer.end(buf)
    return buf.getvalue()


def check_textgrid(text: str, result: VadResult) -> None:
    xmin, xmax, intervals = parse_textgrid(text)
    assert xmin == 0 and xmax == round(result.duration, 6)
    assert intervals[0][0] == 0 and intervals[-1][1] == xmax
    for (_, hi, t1), (lo, _, t2) in itertools.pairwise(intervals):
        assert hi == lo  # exact tiling
        assert {t1, t2} == {"", "speech"}  # alternating
    assert all(lo < hi for lo, hi, _ in intervals) or len(intervals) == 1
    speech = [(lo, hi) for lo, hi, t in intervals if t == "speech"]
    assert_close(speech, merged(spans(result), 1e-6))


def check_one(fmt: str, result: VadResult) -> None:
    """Round-trip ``result`` through the per-file output of ``fmt``."""
    text = write_one(fmt, result)
    if fmt in ("json", "jsonl"):
        parse = parse_json if fmt == "json" else parse_jsonl
        (back,), errors = parse(text)
        assert errors == []
        assert back.path == result.path and back.model == result.model
        assert back.sample_rate == result.sample_rate and back.channels == result.channels
        assert abs(back.duration - result.duration) <= TOL
        assert_close(spans(back), spans(result))
        if result.scores is not None:
            assert back.scores is not None and back.scores.hop_s == result.scores.hop_s
            assert back.scores.values == pytest.approx(result.scores.values, abs=1e-4)
    elif fmt == "rttm":
        got = parse_rttm(text)
        assert_close(got.get(rttm_uri(result.path), []), spans(result))
        assert set(got) <= {rttm_uri(result.path)}
    elif fmt == "csv":
        got = parse_csv(text)
        assert_close(got.get(result.path, []), spans(result))
        assert set(got) <= {result.path}
    elif fmt == "audacity":
        assert_close(parse_audacity(text), spans(result))
    else:
        check_textgrid(text, result)


# --- tests ----------------------------------------------------------------------------------


def test_formats_and_extensions() -> None:
    assert set(EXTENSIONS) == set(FORMATS)
    for fmt in FORMATS:
        writer = get_writer(fmt)
        assert writer.format == fmt and writer.extension == EXTENSIONS[fmt]
        assert writer.combinable == (fmt != "textgrid")
    assert get_writer("TextGrid").format == "textgrid"
    assert get_writer("json") is not get_writer("json")  # fresh state per stream


def test_unknown_format_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown output format 'xml'.*json, jsonl, rttm"):
        get_writer("xml")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("result", RESULTS, ids=["two-segments", "empty", "unicode-scores"])
def test_per_file_round_trip(fmt: str, result: VadResult) -> None:
    check_one(fmt, result)


def test_json_document_layout() -> None:
    text = write_combined("json", RESULTS, errors=["bad.wav", "gone.mp3"])
    doc = json.loads(text)
    assert list(doc) == ["schema_version", "tool", "version", "task", "files", "errors"]
    # streamed output is byte-identical to dumping the whole document at once
    assert text == json.dumps(doc, indent=2) + "\n"
    assert doc["files"] == [r.to_dict() for r in RESULTS]
    assert doc["errors"] == [
        {"path": "bad.wav", "error": "bad.wav: not audio"},
        {"path": "gone.mp3", "error": "gone.mp3: not audio"},
    ]
    assert doc["files"][2]["scores"] == {"hop": 0.01, "values": [0.1, 0.9, 0.5556]}


@pytest.mark.parametrize("n_results", [0, 1, 3])
@pytest.mark.parametrize("n_errors", [0, 1, 2])
def test_json_is_valid_for_any_mix(n_results: int, n_errors: int) -> None:
    paths = [f"bad{i}.wav" for i in range(n_errors)]
    results, errors = parse_json(write_combined("json", RESULTS[:n_results], paths))
    assert [r.path for r in results] == [r.path for r in RESULTS[:n_results]]
    assert [e["path"] for e in errors] == paths


def test_per_file_json_is_the_combined_document_with_one_file() -> None:
    assert write_one("json", RESULTS[0]) == write_combined("json", RESULTS[:1])


def test_jsonl_combined_keeps_results_and_errors_in_order() -> None:
    text = write_combined("jsonl", RESULTS, errors=["bad.wav"])
    lines = [json.loads(line) for line in text.splitlines()]
    assert [d["path"] for d in lines] == [
        RESULTS[0].path,
        "bad.wav",
        *(r.path for r in RESULTS[1:]),
    ]
    assert lines[1] == {"path": "bad.wav", "error": "bad.wav: not audio"}
    results, _ = parse_jsonl(text)
    for back, want in zip(results, RESULTS, strict=True):
        assert_close(spans(back), spans(want))


def test_rttm_combined_groups_by_uri() -> None:
    text = write_combined("rttm", RESULTS, errors=["bad.wav"])
    got = parse_rttm(text)
    assert set(got) == {"a", 'my_clip_é,"quoted"'}  # the file without speech has no line
    for uri, segs in got.items():
        assert_close(segs, spans(CLIP_BY_URI[uri]))


def test_rttm_uri() -> None:
    assert rttm_uri("some dir/my\tclip.v2.wav") == "my_clip.v2"
    assert rttm_uri("-") == "-"


def test_csv_combined_quotes_paths() -> None:
    text = write_combined("csv", RESULTS, errors=["bad.wav"])
    assert text.startswith("path,start,end,duration\n")
    assert '"dir/my clip é,""quoted"".wav"' in text  # comma and quotes are quoted
    got = parse_csv(text)
    assert list(got) == ["clips/a.wav", RESULTS[2].path]
    for path, segs in got.items():
        assert_close(segs, spans(next(r for r in RESULTS if r.path == path)))
    assert parse_csv(write_one("csv", RESULTS[1])) == {}  # header only


def test_audacity_combined_concatenates_labels() -> None:
    got = parse_audacity(write_combined("audacity", RESULTS))
    assert_close(got, [span for r in RESULTS for span in spans(r)])
    assert write_one("audacity", RESULTS[0]).splitlines()[0] == "1.500000\t3.250000\tspeech"


def test_textgrid_is_not_combinable() -> None:
    writer = get_writer("textgrid")
    assert not writer.combinable
    buf = io.StringIO()
    writer.begin(buf)
    writer.write_item(RESULTS[0], buf)  # a single file is fine
    with pytest.raises(ValueError, match="one file only"):
        writer.write_item(RESULTS[1], buf)
    check_textgrid(buf.getvalue(), RESULTS[0])


def test_textgrid_empty_and_edge_segments() -> None:
    _, _, intervals = parse_textgrid(write_one("textgrid", RESULTS[1]))
    assert intervals == [(0.0, 5.0, "")]
    _, _, intervals = parse_textgrid(write_one("textgrid", RESULTS[2]))
    assert intervals == [(0.0, 0.5, "speech"), (0.5, 1.0, ""), (1.0, 2.5, "speech")]
    touching = VadResult("t.wav", 3.0, "m", (Segment(0.5, 1.0), Segment(1.0, 2.0)))
    _, _, intervals = parse_textgrid(write_one("textgrid", touching))
    assert intervals == [(0.0, 0.5, ""), (0.5, 2.0, "speech"), (2.0, 3.0, "")]
    zero = VadResult("z.wav", 0.0, "m", ())
    assert parse_textgrid(write_one("textgrid", zero)) == (0.0, 0.0, [(0.0, 0.0, "")])


# --- property: every format round-trips any valid segment list --------------------------------


@st.composite
def vad_results(draw: st.DrawFn) -> VadResult:
    """Sorted, non-overlapping segments inside ``[0, duration]`` (possibly at either edge)."""
    n = draw(st.integers(0, 8))
    lengths = draw(st.lists(st.floats(0.001, 30.0), min_size=n, max_size=n))
    gaps = draw(st.lists(st.floats(0.001, 30.0), min_size=n, max_size=n))
    if n:
        gaps[0] = draw(st.sampled_from([0.0, gaps[0]]))  # first segment may start at 0
    tail = draw(st.sampled_from([0.0, draw(st.floats(0.001, 30.0))]))
    segments, t = [], 0.0
    for gap, length in zip(gaps, lengths, strict=True):
        segments.append(Segment(t + gap, t + gap + length))
        t += gap + length
    duration = t + tail if n or tail else 1.0
    name = draw(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12))
    return VadResult(f"{name}.wav", duration, "m", tuple(segments))


@settings(max_examples=60, deadline=None)
@given(result=vad_results())
def test_every_format_round_trips(result: VadResult) -> None:
    for fmt in FORMATS:
        check_one(fmt, result)
