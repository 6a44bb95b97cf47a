"""Hostile inputs: every kind of bad or odd file, run through the installed console script next
to one good file, and through the library API.

The corpus is made once per session. Each case is run as ``gabortag vad GOOD CASE`` and
``gabortag birdcalls GOOD CASE``: the exit code is 0 (a sane result for the case) or 1 (one
failure line naming the case and the reason), the good file always has its result, and no
Python traceback reaches stderr. The library raises gabortag's own :class:`AudioError` for the
same files, never a soundfile or numpy error.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import gabortag
import gabortag.io.audio
from gabortag.cli import app
from gabortag.errors import AudioError, GabortagError
from gabortag.io.audio import load_audio
from gabortag.io.formats import rttm_uri
from gabortag.tasks import TASKS as REGISTRY

from _cli_helpers import needs_script, run  # isort: skip
from _paths import SPEECH  # isort: skip

GOOD = "good.flac"
RATE = 16_000
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass(frozen=True)
class Case:
    """One hostile file: how to make it and what gabortag must make of it.

    ``reason`` is a regex the failure reason must match (the case must fail), or ``None`` (the
    case must succeed, with ``sample_rate`` and ``channels`` reported, and ``duration`` when
    given). ``same_as_good``: it holds exactly the good file's samples, so its segments and
    events are the good file's.
    """

    name: str
    reason: str | None
    sample_rate: int = RATE
    channels: int = 1
    duration: float | None = None
    same_as_good: bool = False


def speech() -> np.ndarray:
    """The first sentence of the speech clip (1-4 s), short to keep the many runs quick."""
    data, rate = sf.read(str(SPEECH), dtype="float32")
    assert rate == RATE and data.ndim == 1
    return np.asarray(data[RATE : 4 * RATE])


def encoded(data: np.ndarray, rate: int = RATE, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    """The bytes of a sound file holding ``data``."""
    buf = io.BytesIO()
    sf.write(buf, data, rate, subtype=subtype, format=fmt)
    return buf.getvalue()


def resampled(data: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return np.asarray(soxr.resample(data, RATE, rate), dtype=np.float32)


# 24-bit stereo frames are 6 bytes; the truncated WAV ends 4 bytes into frame 1000.
TRUNCATED_FRAMES = 1000


def non_utf8_name() -> str:
    """A file name that is not valid UTF-8, as Python sees it (with a surrogate escape)."""
    return os.fsdecode(b"caf\xe9 latin-1.wav")


def make_corpus(root: Path) -> dict[str, str | None]:
    """Write every case's file under ``root``; returns ``{name: why it was not made}``."""
    x = speech()
    clean = encoded(x)
    flac = encoded(x, subtype="PCM_16", fmt="FLAC")
    writers: dict[str, Callable[[Path], Any]] = {
        "empty.wav": lambda p: p.write_bytes(b""),
        "header_only.wav": lambda p: p.write_bytes(clean[:44]),
        "truncated.wav": lambda p: p.write_bytes(
            encoded(np.stack([x, -x], axis=1), subtype="PCM_24")[: 44 + 6 * TRUNCATED_FRAMES + 4]
        ),
        "truncated.flac": lambda p: p.write_bytes(flac[: len(flac) // 2]),
        "flac_named.wav": lambda p: p.write_bytes(flac),
        "wav_named.mp3": lambda p: p.write_bytes(clean),
        "text.wav": lambda p: p.write_text("this is not audio\n" * 20, encoding="utf-8"),
        "random.wav": lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)),
        "png.wav": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64)),
        "zero_length.wav": lambda p: p.write_bytes(encoded(np.zeros(0, np.float32))),
        "one_sample.wav": lambda p: p.write_bytes(encoded(np.array([0.5], np.float32))),
        "zeros.wav": lambda p: p.write_bytes(encoded(np.zeros(2 * RATE, np.float32))),
        "dc_offset.wav": lambda p: p.write_bytes(encoded(0.5 * x + 0.45, subtype="FLOAT")),
        "clipping.wav": lambda p: p.write_bytes(encoded(np.clip(20 * x, -1, 1))),
        "nan.wav": lambda p: p.write_bytes(
            encoded(np.where(np.arange(len(x)) == 8000, np.nan, x), subtype="FLOAT")
        ),
        "inf.wav": lambda p: p.write_bytes(
            encoded(np.where(np.arange(len(x)) == 24000, -np.inf, x), subtype="FLOAT")
        ),
        "eight_channels.wav": lambda p: p.write_bytes(
            encoded(np.tile(x[:, None], (1, 8)), subtype="FLOAT")
        ),
        "rate_8k.wav": lambda p: p.write_bytes(encoded(resampled(x, 8000), 8000)),
        "rate_192k.wav": lambda p: p.write_bytes(encoded(resampled(x, 192_000), 192_000)),
        "pcm24.wav": lambda p: p.write_bytes(encoded(x, subtype="PCM_24")),
        "float64.wav": lambda p: p.write_bytes(encoded(x.astype(np.float64), subtype="DOUBLE")),
        "folder.wav": lambda p: p.mkdir(),
        "broken_link.wav": lambda p: p.symlink_to(root / "nowhere.wav"),
        "with spaces in it.wav": lambda p: p.write_bytes(clean),
    }
    (root / GOOD).write_bytes(flac)
    not_made: dict[str, str | None] = {}
    for name, write in writers.items():
        write(root / name)
    try:
        (root / non_utf8_name()).write_bytes(clean)
        not_made[non_utf8_name()] = None
    except (OSError, UnicodeEncodeError) as err:
        not_made[non_utf8_name()] = f"the file system refuses non-UTF-8 names ({err})"
    if IS_ROOT:
        not_made["unreadable.wav"] = "root can read a file whatever its mode"
    else:
        (root / "unreadable.wav").write_bytes(clean)
        (root / "unreadable.wav").chmod(0)
        not_made["unreadable.wav"] = None
    return not_made


CASES = [
    Case("empty.wav", r"empty file \(0 bytes\)"),
    Case("header_only.wav", r"contains no audio samples"),
    Case("truncated.wav", None, channels=2, duration=round(TRUNCATED_FRAMES / RATE, 3)),
    Case("truncated.flac", r"could not decode past t=\d+\.\d\d s.*truncated or corrupt"),
    Case("flac_named.wav", None, same_as_good=True),
    Case("wav_named.mp3", None, same_as_good=True),
    Case("text.wav", r"not a readable audio file"),
    Case("random.wav", r"not a readable audio file"),
    Case("png.wav", r"not a readable audio file"),
    Case("zero_length.wav", r"contains no audio samples"),
    Case("one_sample.wav", None, duration=0.0),
    Case("zeros.wav", None, duration=2.0),
    Case("dc_offset.wav", None),
    Case("clipping.wav", None),
    Case("nan.wav", r"non-finite samples \(NaN or Inf\) at t=0\.50 s"),
    Case("inf.wav", r"non-finite samples \(NaN or Inf\) at t=1\.50 s"),
    Case("eight_channels.wav", None, channels=8, same_as_good=True),
    Case("rate_8k.wav", None, sample_rate=8000),
    Case("rate_192k.wav", None, sample_rate=192_000),
    Case("pcm24.wav", None, same_as_good=True),
    Case("float64.wav", None, same_as_good=True),
    Case("folder.wav", r"no audio files"),
    Case("unreadable.wav", r"permission denied"),
    Case("broken_link.wav", r"broken symlink"),
    Case(non_utf8_name(), None, same_as_good=True),
    Case("with spaces in it.wav", None, same_as_good=True),
]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str | None]]:
    root = tmp_path_factory.mktemp("hostile")
    return root, make_corpus(root)


def case_path(corpus: tuple[Path, dict[str, str | None]], case: Case) -> Path:
    root, not_made = corpus
    why = not_made.get(case.name)
    if why is not None:
        pytest.skip(why)
    return root / case.name


@pytest.fixture(scope="session")
def good(corpus: tuple[Path, dict[str, str | None]]) -> dict[str, dict[str, Any]]:
    """The library's results for the good file, per task, in their JSON form."""
    path = corpus[0] / GOOD
    results = {task: LIBRARY[task](path) for task in TASKS}
    assert all(getattr(results[task], SPANS[task]) for task in TASKS)
    return {task: result.to_dict() for task, result in results.items()}


def check_sane(task: str, item: dict[str, Any], case: Case) -> None:
    """A result of an odd but valid input: what the file is, and times inside the audio."""
    assert item["sample_rate"] == case.sample_rate and item["channels"] == case.channels
    duration = item["duration"]
    if case.duration is not None:
        assert duration == case.duration
    assert 0.0 <= duration < 10.0
    spans = item[SPANS[task]]
    if task == "scenes":  # windows overlap when the hop is shorter than the window
        starts = [w["start"] for w in spans]
        assert starts == sorted(starts)
        for w in spans:
            assert 0.0 <= w["start"] <= w["end"] <= duration + 1e-3  # times are rounded
            assert all(0.0 <= lab["score"] <= 1.0 for lab in w["labels"])
        return
    ends = [0.0] + [t for s in spans for t in (s["start"], s["end"])] + [duration]
    assert all(math.isfinite(t) for t in ends)
    for a, b in zip(ends[1:-2:2], ends[2:-1:2], strict=True):
        assert a < b  # every span is non-empty
    assert ends == sorted(ends)  # sorted, non-overlapping, inside [0, duration]
    if task == "vad":
        values = item["scores"]["values"]
        assert abs(len(values) - duration / item["scores"]["hop"]) <= 1  # one per hop
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
    else:
        for e in item["events"]:
            assert 0.0 <= e["confidence"] <= 1.0
            assert 0.0 <= e["low_freq"] <= e["high_freq"] <= 16_000.0


#: Each task's spans in its JSON result and its library call; every registry task is here
#: (test_every_task_is_covered).
SPANS = {"vad": "segments", "birdcalls": "events", "scenes": "windows"}
LIBRARY: dict[str, Callable[..., Any]] = {
    "vad": gabortag.detect_speech,
    "birdcalls": gabortag.detect_calls,
    "scenes": gabortag.tag_scenes,
}
TASKS = tuple(REGISTRY)


def test_every_task_is_covered() -> None:
    assert set(SPANS) == set(LIBRARY) == set(REGISTRY)


@pytest.fixture(scope="session")
def cli_runs(
    corpus: tuple[Path, dict[str, str | None]],
) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """``gabortag TASK GOOD CASE`` for every task and case made, run a few at a time."""
    root, not_made = corpus
    jobs = [(task, c.name) for task in TASKS for c in CASES if not_made.get(c.name) is None]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        futures = {
            (task, name): pool.submit(
                run,
                task,
                GOOD,
                name,
                "--threads",
                "1",
                *(["--scores"] if task == "vad" else []),
                cwd=root,
            )
            for task, name in jobs
        }
        return {job: future.result() for job, future in futures.items()}


@needs_script
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name.encode("ascii", "replace").decode())
def test_cli_with_a_good_file(
    corpus: tuple[Path, dict[str, str | None]],
    cli_runs: dict[tuple[str, str], subprocess.CompletedProcess[str]],
    good: dict[str, dict[str, Any]],
    case: Case,
    task: str,
) -> None:
    case_path(corpus, case)  # skips a case that could not be made
    done = cli_runs[task, case.name]
    assert "Traceback" not in done.stderr
    assert done.returncode == (0 if case.reason is None else 1), done.stderr
    doc = json.loads(done.stdout)
    files = {f["path"]: f for f in doc["files"]}
    assert files[GOOD][SPANS[task]] == good[task][SPANS[task]]
    lines = done.stderr.splitlines()
    assert re.fullmatch(rf"gabortag {task}: 2 inputs: .* failed in .*", lines[-1])
    if case.reason is None:
        assert lines[:-1] == [] and doc["errors"] == []
        assert list(files) == [GOOD, case.name]
        check_sane(task, files[case.name], case)
        if case.same_as_good:
            assert files[case.name][SPANS[task]] == good[task][SPANS[task]]
    else:
        assert list(files) == [GOOD]
        (error,) = doc["errors"]
        assert error["path"] == case.name and re.search(case.reason, error["error"])
        (line,) = lines[:-1]  # one line: the file and the reason
        assert line == f"failed {case.name}: {error['error']}"


@needs_script
def test_cli_over_the_whole_corpus(corpus: tuple[Path, dict[str, str | None]]) -> None:
    """The corpus folder as one argument: every file gets a result or one failure line."""
    root, not_made = corpus
    made = [c for c in CASES if not_made.get(c.name) is None and c.name != "folder.wav"]
    done = run("vad", ".", "-f", "jsonl", "-q", cwd=root)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    by_path = {r["path"].removeprefix("./"): r for r in records}
    assert set(by_path) == {c.name for c in made} | {GOOD}
    failed = {c.name for c in made if c.reason is not None}
    assert {p for p, r in by_path.items() if "error" in r} == failed
    assert len(done.stderr.splitlines()) == len(failed)


@pytest.mark.parametrize("case", [c for c in CASES if c.reason], ids=lambda c: c.name)
def test_library_raises_audio_errors(
    corpus: tuple[Path, dict[str, str | None]], case: Case
) -> None:
    path = case_path(corpus, case)
    for call in (*LIBRARY.values(), lambda p: load_audio(p, RATE)):
        with pytest.raises(GabortagError) as raised:
            call(path)
        err = raised.value
        assert type(err) is AudioError, type(err)
        assert err.path == str(path) and "\n" not in str(err)
        assert str(err) == f"{path}: {err.reason}"
        if case.name != "folder.wav":  # as a CLI argument a folder is searched, not opened
            assert re.search(case.reason or "", err.reason), err.reason


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.reason is None],
    ids=lambda c: c.name.encode("ascii", "replace").decode(),
)
def test_library_results_are_sane(corpus: tuple[Path, dict[str, str | None]], case: Case) -> None:
    path = case_path(corpus, case)
    for byte_path in (False, True):
        source: Any = os.fsencode(path) if byte_path else path
        vad = gabortag.detect_speech(source, return_scores=True)
        for task in TASKS:
            result = vad if task == "vad" else LIBRARY[task](source)
            assert result.path == str(path)
            check_sane(task, result.to_dict(), case)
        assert vad.scores is not None
        assert np.isfinite(vad.scores.values).all()


def test_corpus_has_a_file_per_case(corpus: tuple[Path, dict[str, str | None]]) -> None:
    root, not_made = corpus
    made = {c.name for c in CASES if not_made.get(c.name) is None}
    assert len(made) + sum(why is not None for why in not_made.values()) == len(CASES)
    assert set(os.listdir(root)) == made | {GOOD}


@needs_script
@pytest.mark.parametrize(
    ("task", "fmt", "ext"),
    [("vad", "rttm", ".rttm"), ("birdcalls", "raven", ".selections.txt")],
)
def test_file_names_that_are_not_utf8_reach_text_outputs(
    corpus: tuple[Path, dict[str, str | None]], tmp_path: Path, task: str, fmt: str, ext: str
) -> None:
    """Text formats hold the file name's own bytes, on stdout (whatever PYTHONIOENCODING says)
    and in an output file alike."""
    case = next(c for c in CASES if c.name == non_utf8_name())
    path = case_path(corpus, case)
    target = tmp_path / f"all{ext}"
    args = (task, GOOD, path.name, "-f", fmt, "-q")  # two files: Raven names them
    to_stdout = run(*args, cwd=path.parent)
    to_file = run(*args, "-o", target, cwd=path.parent)
    for done in (to_stdout, to_file):
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
    name = rttm_uri(path.name) if fmt == "rttm" else path.name
    assert os.fsencode(name) in target.read_bytes()
    assert os.fsencode(to_stdout.stdout) == target.read_bytes()
    assert os.listdir(tmp_path) == [target.name]  # no temporary file left


def test_unreadable_file_whoever_runs_the_tests(
    corpus: tuple[Path, dict[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``unreadable.wav`` above is skipped as root (root reads any file); here the file's
    opening fails with EACCES in-process, for the library and for the CLI."""
    root = corpus[0]
    locked = str(root / "with spaces in it.wav")
    real_open = open

    def deny(file: Any, *args: Any, **kwargs: Any) -> Any:
        if os.fspath(file) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(gabortag.io.audio, "open", deny, raising=False)
    for call in (gabortag.detect_speech, gabortag.detect_calls):
        with pytest.raises(AudioError, match=r"permission denied$"):
            call(locked)
    result = CliRunner().invoke(app, ["vad", str(root / GOOD), locked], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[:-1] == [f"failed {locked}: permission denied"]
    doc = json.loads(result.stdout)
    assert [f["path"] for f in doc["files"]] == [str(root / GOOD)]


@needs_script
def test_control_characters_in_a_name_keep_its_failure_on_one_line(
    corpus: tuple[Path, dict[str, str | None]], tmp_path: Path
) -> None:
    """A newline (or a terminal escape) in a file name is shown escaped on stderr; the JSON
    output keeps the name as it is."""
    name = "new\nline \x1b[1mbold\u2028.wav"
    try:
        (tmp_path / name).write_text("not audio\n", encoding="utf-8")
    except OSError as err:
        pytest.skip(f"the file system refuses control characters in names ({err})")
    shutil.copy(corpus[0] / GOOD, tmp_path / GOOD)
    done = run("vad", GOOD, name, "--threads", "1", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[1].startswith("gabortag vad: 2 inputs")
    assert lines[0] == (
        "failed new\\nline \\x1b[1mbold\\u2028.wav: not a readable audio file "
        "(Format not recognised)"
    )
    doc = json.loads(done.stdout)
    assert [e["path"] for e in doc["errors"]] == [name]
