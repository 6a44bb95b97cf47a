"""Scaling benchmark: throughput and memory of a task command over many files and one long file.

    python benchmarks/scale.py generated                     # 16 × 5 min files, one 10 h file
    python benchmarks/scale.py recordings/ --jobs 4 --long-hours 0 --json scale.json
    python benchmarks/scale.py generated --files 8 --seconds 60 --long-hours 0.25 --repeats 3

1. **Batch**: ``gabortag TASK DATA -f jsonl -o FILE --jobs 1`` and then ``--jobs N`` (each run
   a fresh process, as a user runs it), ``--repeats`` times, alternating. Prints the median
   wall time, throughput (audio hours per wall hour), CPU time (user + system, workers
   included) and peak memory (the resident set of the whole process tree, sampled every
   20 ms, and of its largest process, exact), and checks that the outputs of both are
   identical, byte for byte.
2. **One long file** (``--long-hours``, at the model's rate, written block by block to a
   temporary FLAC so that it is never in memory): the same command on it, throughput and
   peak memory (which must stay under 500 MB), then a check that its result equals the file
   processed in pieces: the frame scores of the streamed file (the code the command runs)
   at a few places, start and end included, equal those of windows cut out of the file with
   the network's receptive field as overlap and scored on their own; for ``vad`` the
   command's segments also equal those decoded from the streamed scores.

``DATA`` is a folder (or file, or glob) of audio, or ``generated``: ``--files`` files of
``--seconds`` each at ``--rate`` Hz, quiet noise with copies of the bundled speech clip
(``tests/data/speech_noise.flac``) at random places and gains. Every number printed, and the
JSON (``--json``), says which sizes it comes from.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from gabortag.batch.local import default_jobs
from gabortag.inference import load_model
from gabortag.io.audio import load_audio, open_stream, probe
from gabortag.io.discover import discover

CLIP = Path(__file__).resolve().parent.parent / "tests" / "data" / "speech_noise.flac"
RSS_LIMIT_MB = 500.0
BLOCK_SECONDS = 60


# --------------------------------------------------------------------------- generated audio


def write_generated(path: Path, seconds: float, rate: int, seed: int) -> None:
    """Noise (σ 0.005) with the speech clip added at random places and gains, written to
    ``path`` (FLAC, 16 bit) in blocks of :data:`BLOCK_SECONDS`: memory does not grow with
    ``seconds``."""
    clip, _ = load_audio(CLIP, rate)
    rng = np.random.default_rng(seed)
    total = round(seconds * rate)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        done = 0
        while done < total:
            n = min(BLOCK_SECONDS * rate, total - done)
            block = rng.normal(0.0, 0.005, n).astype(np.float32)
            for _ in range(int(rng.integers(1, 4))):  # 1-3 utterances per block
                at = int(rng.integers(0, max(1, n - len(clip))))
                piece = clip[: n - at] * float(rng.uniform(0.2, 1.0))
                block[at : at + len(piece)] += piece
            out.write(np.clip(block, -1.0, 1.0))
            done += n


def generated_set(folder: Path, files: int, seconds: float, rate: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        write_generated(folder / f"gen{i:03d}.flac", seconds, rate, seed=i)


# --------------------------------------------------------------------------- measuring a run


def _tree_rss_bytes(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass
class Run:
    wall_s: float
    tree_rss_mb: float  # peak of the summed resident sets of the process tree (sampled)
    largest_rss_mb: float  # peak resident set of the largest single process (exact)
    cpu_s: float  # user + system CPU seconds of the process and the children it waited for
    returncode: int
    stderr: str


def measure(command: list[str]) -> Run:
    """Run ``command``; its wall time and peak memory."""
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss_bytes(proc.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - started
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        wall,
        peak / 2**20,
        usage.ru_maxrss / 1024,  # KiB on Linux
        usage.ru_utime + usage.ru_stime,
        proc.returncode,
        b"".join(stderr).decode("utf-8", "replace"),
    )


def gabortag(task: str, inputs: list[str], out: Path, *extra: str) -> list[str]:
    """The command line of ``gabortag TASK INPUTS -f jsonl -o OUT -q EXTRA``."""
    command = [sys.executable, "-m", "gabortag", task, *inputs]
    return [*command, "-f", "jsonl", "-o", str(out), "-q", *extra]


def summarise(runs: list[Run], audio_s: float) -> dict[str, Any]:
    wall = statistics.median(r.wall_s for r in runs)
    return {
        "wall_s": [round(r.wall_s, 3) for r in runs],
        "median_wall_s": round(wall, 3),
        "throughput_audio_h_per_wall_h": round(audio_s / wall, 1),
        "peak_rss_tree_mb": round(max(r.tree_rss_mb for r in runs), 1),
        "peak_rss_largest_process_mb": round(max(r.largest_rss_mb for r in runs), 1),
        "median_cpu_s": round(statistics.median(r.cpu_s for r in runs), 3),
    }


def checked(run: Run, what: str) -> Run:
    if run.returncode != 0:
        sys.exit(f"{what} failed ({run.returncode}):\n{run.stderr}")
    return run


# --------------------------------------------------------------------------- the benchmarks


def batch(
    task: str, inputs: list[str], audio_s: float, jobs: int, repeats: int, work: Path
) -> dict[str, Any]:
    """``--jobs 1`` vs ``--jobs N`` on ``inputs`` (``audio_s`` seconds of audio in all)."""
    runs: dict[int, list[Run]] = {1: [], jobs: []}
    outputs: dict[int, bytes] = {}
    for r in range(repeats):
        for j in runs:  # alternate, so that background load hits both alike
            out = work / f"batch-j{j}-{r}.jsonl"
            runs[j].append(checked(measure(gabortag(task, inputs, out, "--jobs", str(j))), "run"))
            outputs.setdefault(j, out.read_bytes())
            out.unlink()
    result = {f"jobs_{j}": summarise(rs, audio_s) for j, rs in runs.items()}
    result["outputs_identical"] = outputs[1] == outputs[jobs]
    result["speedup"] = round(
        result["jobs_1"]["median_wall_s"] / result[f"jobs_{jobs}"]["median_wall_s"], 2
    )
    return result


def pieces_equal_stream(
    task: str,
    path: Path,
    segments: list[dict[str, float]] | None,
    n_pieces: int = 6,
    piece_s: float = 60.0,
) -> dict[str, Any]:
    """Scores of the streamed file vs windows scored on their own (see the module doc)."""
    model = load_model(task, threads=1)
    info = model.info
    _, blocks = open_stream(path, model.sample_rate)
    scores = np.concatenate(list(model.score_stream(blocks)))
    frames = len(scores)
    n = min(frames, round(piece_s / model.hop_seconds))
    rng = np.random.default_rng(0)
    starts = sorted({0, frames - n, *rng.integers(0, frames - n + 1, n_pieces - 2).tolist()})
    worst = 0.0
    with sf.SoundFile(path) as f:
        for first in starts:
            begin = first * info.hop - info.left_pad  # the window of frame `first`
            length = (n - 1) * info.hop + info.receptive_field
            window = np.zeros(length, np.float32)
            f.seek(max(begin, 0))
            got = f.read(length - max(-begin, 0), dtype="float32")
            window[max(-begin, 0) : max(-begin, 0) + len(got)] = got
            alone = model.run(window[None])[0][:n]
            worst = max(worst, float(np.abs(alone - scores[first : first + n]).max()))
    result: dict[str, Any] = {
        "pieces": len(starts),
        "piece_s": round(n * model.hop_seconds, 3),
        "max_abs_diff": worst,
        "equal": worst <= 1e-5,
    }
    if segments is not None:
        from gabortag.tasks.vad.api import default_options
        from gabortag.tasks.vad.decode import segments_from_scores

        duration = probe(path).duration
        decoded = segments_from_scores(scores, model.hop_seconds, duration, default_options(model))
        mine = [{"start": round(s.start, 3), "end": round(s.end, 3)} for s in decoded]
        result["segments_equal"] = mine == segments
        result["segments"] = len(mine)
    return result


def long_file(task: str, hours: float, repeats: int, work: Path) -> dict[str, Any]:
    rate = load_model(task).sample_rate
    path = work / f"long-{hours:g}h.flac"
    started = time.perf_counter()
    write_generated(path, hours * 3600, rate, seed=1000)
    written_s = time.perf_counter() - started
    out = work / "long.jsonl"
    runs = []
    for _ in range(repeats):
        runs.append(checked(measure(gabortag(task, [str(path)], out, "--jobs", "1")), "long"))
        record = json.loads(out.read_text())
        out.unlink()
    result = summarise(runs, hours * 3600)
    result |= {
        "hours": hours,
        "rate": rate,
        "flac_mb": round(path.stat().st_size / 2**20, 1),
        "generate_s": round(written_s, 1),
        "rss_under_500_mb": result["peak_rss_tree_mb"] < RSS_LIMIT_MB,
    }
    result["equals_pieces"] = pieces_equal_stream(
        task, path, record.get("segments") if task == "vad" else None
    )
    path.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="audio folder, file or glob; or `generated`")
    parser.add_argument("--task", default="vad", choices=("vad", "birdcalls"))
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="N to compare with 1")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each batch setting")
    parser.add_argument("--files", type=int, default=16, help="generated files")
    parser.add_argument("--seconds", type=float, default=300.0, help="per generated file")
    parser.add_argument("--rate", type=int, default=16000, help="Hz of generated files")
    parser.add_argument("--long-hours", type=float, default=10.0, help="0: no long file")
    parser.add_argument("--long-repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    if args.jobs < 2:
        parser.error("--jobs N compares N worker processes with one: give N >= 2")

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="gabortag-scale-") as tmp:
        work = Path(tmp)
        if args.data == "generated":
            generated_set(work / "data", args.files, args.seconds, args.rate)
            inputs, source = [str(work / "data")], "generated"
        else:
            inputs, source = [args.data], args.data
        items, _ = discover(inputs)
        if not items:
            sys.exit(f"no audio in {args.data}")
        audio_s = sum(probe(i.source).duration for i in items)
        sizes = {
            "data": source,
            "files": len(items),
            "audio_s": round(audio_s, 1),
            "repeats": args.repeats,
            "jobs": args.jobs,
            "long_hours": args.long_hours,
            "long_repeats": args.long_repeats,
        }
        if source == "generated":
            sizes |= {"seconds_per_file": args.seconds, "rate": args.rate}
        print(f"sizes: {json.dumps(sizes)}", flush=True)
        results: dict[str, Any] = {"task": args.task, "sizes": sizes}
        results["batch"] = batch(args.task, inputs, audio_s, args.jobs, args.repeats, work)
        if args.long_hours > 0:
            results["long_file"] = long_file(args.task, args.long_hours, args.long_repeats, work)
    results["environment"] = {
        "cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": md.version("onnxruntime"),
        "gabortag": md.version("gabortag"),
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    report(results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def report(results: dict[str, Any]) -> None:
    sizes, b = results["sizes"], results["batch"]
    head = f"{results['task']}: {sizes['files']} files, {sizes['audio_s']:g} s of audio"
    print(f"\n{head}, median of {sizes['repeats']} runs")
    widths = {"wall s": 8, "audio h / h": 12, "CPU s": 7, "RSS tree MB": 12, "largest MB": 11}
    print(f"{'':10}", *(f"{name:>{width}}" for name, width in widths.items()))
    for j in (1, sizes["jobs"]):
        r = b[f"jobs_{j}"]
        cells = (
            f"{r['median_wall_s']:>8.2f}",
            f"{r['throughput_audio_h_per_wall_h']:>12.0f}",
            f"{r['median_cpu_s']:>7.2f}",
            f"{r['peak_rss_tree_mb']:>12.0f}",
            f"{r['peak_rss_largest_process_mb']:>11.0f}",
        )
        print(f"--jobs {j:<3}", *cells)
    print(f"speed-up {b['speedup']:.2f}; outputs identical: {b['outputs_identical']}")
    long = results.get("long_file")
    if long:
        p = long["equals_pieces"]
        print(
            f"\none {long['hours']:g} h file ({long['rate']} Hz FLAC, {long['flac_mb']:g} MB): "
            f"{long['median_wall_s']:.1f} s, {long['throughput_audio_h_per_wall_h']:.0f} "
            f"audio h / h, peak RSS {long['peak_rss_tree_mb']:.0f} MB "
            f"(under {RSS_LIMIT_MB:.0f} MB: {long['rss_under_500_mb']})"
        )
        same = f"; segments equal: {p['segments_equal']}" if "segments_equal" in p else ""
        print(
            f"{p['pieces']} pieces of {p['piece_s']:g} s scored alone vs the stream: "
            f"max |diff| {p['max_abs_diff']:.2g}, equal: {p['equal']}{same}"
        )
    print(f"\n(environment: {json.dumps(results['environment'])})")


if __name__ == "__main__":
    main()
