"""``--jobs N``: inputs processed in worker processes give the same outputs, byte for byte, as
one process; failures, ``--skip-existing`` and standard input behave as with one process."""

from __future__ import annotations

import pickle
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gabortag.batch import process_files
from gabortag.batch.local import AUTO_MIN_BYTES, WorkerPool, plan_workers
from gabortag.batch.run import Failure
from gabortag.batch.spec import TaskSpec, processor
from gabortag.batch.window import cpu_count, ordered_outcomes, threads_per_job
from gabortag.errors import OptionError
from gabortag.io.discover import InputItem
from gabortag.tasks.results import VadResult

from _cli_helpers import needs_script, run  # isort: skip
from _paths import SPEECH  # isort: skip


#: birdcalls options that make every frame a call, so that any audio gives events.
EVERY_FRAME = ("--min-confidence", "0", "--min-duration", "0.05")


@pytest.fixture
def batch(tmp_path: Path) -> list[str]:
    """Four short inputs in the working folder, one in a sub-folder, at three rates."""
    shutil.copy(SPEECH, tmp_path / "speech.flac")
    rng = np.random.default_rng(0)
    for name, rate, seconds in (("a.wav", 16_000, 1.5), ("sub/b.wav", 44_100, 2.0)):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        sf.write(tmp_path / name, 0.05 * rng.standard_normal(int(rate * seconds)), rate)
    sf.write(tmp_path / "c.flac", 0.1 * rng.standard_normal((32_000, 2)), 32_000)
    return ["speech.flac", "a.wav", "sub", "c.flac"]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def same_with_jobs(tmp_path: Path, task: str, args: list[str], out: str) -> bytes | dict:
    """Run ``task`` with ``--jobs 1`` and ``--jobs 2`` into ``out`` (+ ``1``/``2``); assert
    that both succeed with identical outputs, and return them."""
    outputs = []
    for jobs in ("1", "2"):
        target = tmp_path / out.replace("*", jobs)
        done = run(task, *args, "-o", target, "--jobs", jobs, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (f"{jobs} worker processes" in done.stderr) == (jobs == "2"), done.stderr
        outputs.append(files_of(target) if target.is_dir() else target.read_bytes())
    assert outputs[0] == outputs[1]
    return outputs[0]


pytestmark = needs_script


def test_vad_combined_file(tmp_path: Path, batch: list[str]) -> None:
    text = same_with_jobs(tmp_path, "vad", [*batch, "--scores"], "all*.json")
    assert isinstance(text, bytes)
    assert text.count(b'"path"') == 4 and b'"provider": "CPUExecutionProvider"' in text


def test_vad_dir_mode(tmp_path: Path, batch: list[str]) -> None:
    files = same_with_jobs(tmp_path, "vad", [*batch, "-f", "rttm"], "out*")
    assert sorted(files) == ["a.rttm", "b.rttm", "c.rttm", "speech.rttm"]  # b: relative to sub
    # both sentences are found; the first may end at its 120 ms pause between words
    assert files["speech.rttm"].count(b"SPEAKER") in (2, 3)


def test_birdcalls_combined_and_dir(tmp_path: Path, batch: list[str], bird_model: str) -> None:
    args = [*batch, "-m", bird_model, *EVERY_FRAME]
    table = same_with_jobs(tmp_path, "birdcalls", [*args, "-f", "raven"], "all*.selections.txt")
    assert isinstance(table, bytes) and table.count(b"\n") > 4  # numbered across the files
    files = same_with_jobs(tmp_path, "birdcalls", args, "dir*")
    assert len(files) == 4


def test_scenes_combined_and_dir(tmp_path: Path, batch: list[str]) -> None:
    text = same_with_jobs(tmp_path, "scenes", [*batch, "-f", "csv"], "all*.csv")
    assert isinstance(text, bytes) and text.startswith(b"path,start,end,label,score")
    files = same_with_jobs(tmp_path, "scenes", [*batch, "--window", "1", "--hop", "0.5"], "d*")
    assert len(files) == 4


def test_a_corrupt_file_fails_alone(tmp_path: Path, batch: list[str]) -> None:
    (tmp_path / "bad.wav").write_bytes(b"RIFF, but not really a wav file")
    inputs = [*batch, "bad.wav"]
    combined = [run("vad", *inputs, "-f", "jsonl", "--jobs", j, cwd=tmp_path) for j in "12"]
    assert [d.returncode for d in combined] == [1, 1]
    assert combined[0].stdout == combined[1].stdout
    assert combined[1].stdout.count('"error"') == 1 and combined[1].stdout.count("segments") == 4
    assert "failed bad.wav: not a readable audio file" in combined[1].stderr
    assert "4 done, 0 skipped, 1 failed" in combined[1].stderr

    done = run("vad", *inputs, "-o", "out", "--jobs", "2", cwd=tmp_path)
    assert done.returncode == 1 and "failed bad.wav" in done.stderr
    assert sorted(files_of(tmp_path / "out")) == ["a.json", "b.json", "c.json", "speech.json"]


def test_skip_existing(tmp_path: Path, batch: list[str]) -> None:
    first = run("vad", *batch, "-o", "out", "--jobs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = files_of(tmp_path / "out")
    (tmp_path / "out" / "a.json").write_text("kept\n")
    (tmp_path / "out" / "c.json").unlink()
    (tmp_path / "out" / "speech.json").unlink()
    again = run("vad", *batch, "-o", "out", "--jobs", "2", "--skip-existing", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "2 done, 2 skipped, 0 failed" in again.stderr
    after = files_of(tmp_path / "out")
    assert after == {**before, "a.json": b"kept\n"}
    refused = run("vad", *batch, "-o", "out", "--jobs", "2", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.count("exists (use --force") == 4


def test_stdin_is_read_here(tmp_path: Path, batch: list[str]) -> None:
    stdin = SPEECH.read_bytes()
    one, two = (
        run("vad", batch[0], "-", batch[1], "-f", "jsonl", "--jobs", j, cwd=tmp_path, stdin=stdin)
        for j in "12"
    )
    assert one.returncode == two.returncode == 0, two.stderr
    assert one.stdout == two.stdout and '"path": "-"' in two.stdout


def test_jobs_and_scheduler_together_is_a_usage_error(tmp_path: Path, batch: list[str]) -> None:
    done = run("vad", *batch, "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1", cwd=tmp_path)
    assert done.returncode == 2 and "--jobs" in done.stderr and "--scheduler" in done.stderr


# --------------------------------------------------------------------------- library


def test_process_files_in_workers_equals_here(tmp_path: Path, batch: list[str]) -> None:
    paths = [tmp_path / "speech.flac", tmp_path / "a.wav", tmp_path / "nope.wav"]
    spec = TaskSpec("vad", options={"pad": 0.05})
    here = list(process_files(spec, paths, jobs=1))
    there = list(process_files(spec, paths, jobs=2))
    assert here == there
    assert [type(o) for o in there] == [VadResult, VadResult, Failure]
    assert there[2] == Failure(str(paths[2]), "does not exist")


def test_small_inputs_start_no_workers_unless_asked(tmp_path: Path, batch: list[str]) -> None:
    items = [InputItem(str(tmp_path / n), n) for n in ("speech.flac", "a.wav")]
    auto, asked = WorkerPool(TaskSpec("vad")), WorkerPool(TaskSpec("vad"), jobs=2)
    assert list(auto.map(items)) == list(asked.map(items))
    assert (auto.used, asked.used) == (0, 2)


def test_spec_pickles_and_keys_the_cache() -> None:
    spec = TaskSpec("birdcalls", options={"thresholds": {"a": 0.5}, "min_gap": 0.02})
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back.key == spec.key and hash(back) == hash(spec)
    assert back.model == "birdcalls" and TaskSpec("vad", "vad").key == TaskSpec("vad").key
    assert processor(TaskSpec("vad", threads=1)) is processor(TaskSpec("vad", threads=1))
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        TaskSpec("nope")


def test_threads_are_shared_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gabortag.batch.window.cpu_count", lambda: 8)
    assert [threads_per_job(j) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert [threads_per_job(j, threads=6) for j in (1, 2, 3, 4, 6)] == [6, 3, 2, 1, 1]


def test_threads_are_the_whole_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--threads N`` bounds worker processes × threads of each, with ``--jobs`` or without
    (a batch big enough to start workers by itself), on a machine of 8 cores."""
    for where in ("gabortag.batch.window.cpu_count", "gabortag.batch.local.cpu_count"):
        monkeypatch.setattr(where, lambda: 8)
    big, small = [AUTO_MIN_BYTES] * 8, [1000] * 8
    assert plan_workers(None, None, big) == (4, 2)  # the cores shared out
    assert plan_workers(None, 1, big) == (0, 1)  # all in this process, one thread
    assert plan_workers(None, 2, big) == (2, 1)
    assert plan_workers(None, 6, big) == (4, 1)
    assert plan_workers(None, 8, big) == (4, 2)
    assert plan_workers(None, 3, small) == (0, 3)
    assert plan_workers(3, 8, big) == (3, 2)
    assert plan_workers(1, 8, big) == (0, 8)
    assert plan_workers(4, 8, [AUTO_MIN_BYTES] * 2) == (2, 4)  # never more workers than inputs
    for jobs in (None, 1, 2, 3, 4):
        for threads in range(max(1, jobs or 1), 13):
            workers, each = plan_workers(jobs, threads, big)
            assert each is not None and max(1, workers) * each <= threads, (jobs, threads)
    # the library names its own options (the CLI says --jobs, --threads)
    with pytest.raises(OptionError, match=r"^jobs 4 needs at least 4 threads, and threads 2") as e:
        plan_workers(4, 2, big)
    assert e.value.field == "jobs" and "--" not in str(e.value)
    with pytest.raises(OptionError, match=r"^jobs 4 needs at least 4 threads"):
        WorkerPool(TaskSpec("vad", threads=2), jobs=4)


@pytest.mark.skipif(cpu_count() < 2, reason="one core: a batch never starts workers by itself")
@pytest.mark.parametrize("task", ["vad", "birdcalls", "scenes"])
def test_threads_1_keeps_a_big_batch_in_one_process(tmp_path: Path, task: str) -> None:
    """Two inputs of 17 MiB each (32-bit stereo at 192 kHz, 11.6 s): without options they
    would start worker processes; ``--threads 1`` keeps them in this process."""
    frames = 17 * 2**20 // 8
    for name in ("a.wav", "b.wav"):
        noise = 0.05 * np.random.default_rng(0).standard_normal((frames, 2))
        sf.write(tmp_path / name, noise.astype(np.float32), 192_000, subtype="FLOAT")
    assert sum((tmp_path / n).stat().st_size for n in ("a.wav", "b.wav")) >= AUTO_MIN_BYTES
    done = run(task, "a.wav", "b.wav", "-o", "out", "--threads", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 done" in done.stderr and "worker processes" not in done.stderr, done.stderr
    both = run(task, "a.wav", "b.wav", "-o", "out2", "--threads", "1", "--jobs", "2", cwd=tmp_path)
    assert both.returncode == 2, both.stderr
    assert "--jobs 2 needs at least 2 threads" in both.stderr and not (tmp_path / "out2").exists()


def _items(n: int) -> list[InputItem]:
    return [InputItem(__file__, str(i)) for i in range(n)]  # regular files: sent to workers


def test_outcomes_come_in_input_order_whatever_finishes_first() -> None:
    in_flight, most = 0, 0
    lock = threading.Lock()

    def work(item: InputItem) -> Failure:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.02 * (int(item.relative) % 3 == 0))  # every third one is slow
        with lock:
            in_flight -= 1
        return Failure(item.relative, "done")

    with ThreadPoolExecutor(4) as pool:
        got = ordered_outcomes(_items(20), lambda i: pool.submit(work, i), lambda: work, window=5)
        assert [o.path for o in got] == [str(i) for i in range(20)]  # type: ignore[union-attr]
    assert 1 < most <= 4


def test_a_worker_that_dies_fails_only_its_input(tmp_path: Path) -> None:
    """The inputs in flight when a worker died are processed again, each alone: only the one
    that kills its worker again fails, and the batch goes on in new workers."""
    from _workers import die_on_crash

    rng = np.random.default_rng(3)
    names = [f"{i:02d}.wav" for i in range(9)]
    names[2] = "crash.wav"
    for name in names:
        sf.write(tmp_path / name, 0.05 * rng.standard_normal(8000), 16_000)
    items = [InputItem(str(tmp_path / n), n) for n in names]
    spec = TaskSpec("vad", threads=2)  # the run's: one thread for each of the two workers
    outcomes = list(WorkerPool(spec, jobs=2, target=die_on_crash).map(items))
    assert [Path(o.path).name for o in outcomes] == names
    failed = [o for o in outcomes if isinstance(o, Failure)]
    assert [Path(f.path).name for f in failed] == ["crash.wav"]
    assert "died processing it alone" in failed[0].reason
    assert outcomes[3:] == list(process_files(spec, [str(i.source) for i in items[3:]], jobs=1))


def test_a_lost_worker_fails_its_input_and_close_cancels_the_rest() -> None:
    class Lost(Exception):
        pass

    submitted: list[Future[Failure]] = []

    def submit(item: InputItem) -> Future[Failure]:
        future: Future[Failure] = Future()
        if item.relative == "0":
            future.set_exception(Lost())
        submitted.append(future)
        return future

    outcomes = ordered_outcomes(_items(10), submit, lambda: None, window=3, lost=(Lost,))  # type: ignore[arg-type,return-value]
    first = next(outcomes)
    assert isinstance(first, Failure) and "worker processing it died" in first.reason
    assert len(submitted) == 4  # the window, refilled once
    outcomes.close()
    assert all(f.cancelled() for f in submitted[1:])
