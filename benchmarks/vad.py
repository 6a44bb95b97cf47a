"""Voice activity detection benchmark: gabortag against silero-vad, TEN VAD, earshot, webrtcvad.

Runs every system in one process on one CPU thread and prints, for every set of recordings,
ROC-AUC, frame F1, detection error rate (missed + false alarm) / speech with its two parts at
each system's default decision, and the real-time factor; then gabortag's RTF over each peer's.

    bash benchmarks/setup_peers.sh                 # once: creates .venv-peers
    .venv-peers/bin/python benchmarks/vad.py --json vad.json                  # meetings only
    .venv-peers/bin/python benchmarks/vad.py --suites SUITES --json vad.json  # + held-out

Without ``--suites`` the sets are the ``meetings`` development and test splits. With
``--suites SUITES`` (the folder ``python -m gabortag.training.recipes.vad_suites`` writes from
sources held out of training), the sets are every group of the development and test suites (meetings
development / test among them), each suite pooled, and each group alone.
``--model NAME=PATH.onnx`` (repeatable) adds other gabortag models (the ablations) as rows.

The references, the 10 ms frame grid and every metric come from ``gabortag.tasks.vad.evaluate``, the
code that measured the model card (``gabortag/training/recipes/release_vad.py``), so gabortag's rows
are the card's numbers. Each system gives, per file, graded scores at a fixed hop (for the
AUC) and its decisions as segments (for F1 / DER); see benchmarks/README.md.
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy / onnxruntime / torch are imported.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"
os.environ["VECLIB_MAXIMUM_THREADS"] = "1"

import argparse
import importlib.metadata as md
import importlib.util
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gabortag.io.audio import load_audio
from gabortag.tasks.results import Segment
from gabortag.tasks.vad.evaluate import FRAME_S, Reference, evaluate, meetings_split

SR = 16000
ALL_SYSTEMS = ("gabortag", "silero", "ten-vad", "earshot", "webrtcvad")
Decisions = dict[str, list[Segment]]  # decision name -> speech segments of one file
Metrics = dict[str, float]  # metric name -> value
SetMetrics = dict[str, Metrics]  # decision name ("scores" for the AUC alone) -> metrics


def frames_to_segments(flags: np.ndarray, hop_s: float) -> list[Segment]:
    """Runs of true native frames (frame ``k`` = ``[k·hop, (k+1)·hop)``) as segments. A run
    through the last frame goes on past the end, as ``scores_on_grid`` holds the last frame, so
    the 10 ms frames marked are those whose centre lies in a true native frame."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    n = len(flags)
    return [
        Segment(float(a * hop_s), float(b * hop_s) if b < n else math.inf)
        for a, b in zip(starts, ends, strict=True)
    ]


def rss_mb() -> float:
    """Current resident set size in MiB (Linux), NaN elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


# ------------------------------------------------------------------------------------ systems
@dataclass
class System:
    name: str
    version: str
    notes: str
    hop_s: float  # seconds per native score frame
    # untimed: decoded audio -> native scores (graded, for the AUC) and decisions
    outputs: Callable[[np.ndarray], tuple[np.ndarray, Decisions]]
    timed: dict[str, Callable[[np.ndarray], Any]]  # timing key -> what its RTF measures
    rows: dict[str, tuple[str, str]]  # table rows: decision -> (label, timing key of its RTF)
    rss_mb: float = float("nan")  # RSS growth from loading the model and a warm-up run
    import_rss_mb: float = 0.0  # RSS growth from imports its package needs outside inference


def make_gabortag(model_name: str, label: str = "gabortag") -> System:
    import gabortag
    from gabortag.tasks.vad.api import default_options

    model = gabortag.load_model(model_name, threads=1)
    if model.sample_rate != SR:
        raise RuntimeError(f"model.sample_rate is {model.sample_rate}, benchmark audio is {SR}")
    threshold = default_options(model).onset
    hop = model.hop_seconds

    def detect(wav: np.ndarray) -> Any:
        return gabortag.detect_speech(wav, sample_rate=SR, model=model)

    def outputs(wav: np.ndarray) -> tuple[np.ndarray, Decisions]:
        probs = model.score(wav)
        threshold_segments = frames_to_segments(probs > threshold, hop)
        return probs, {"segments": list(detect(wav).segments), "threshold": threshold_segments}

    return System(
        name=label,
        version=md.version("gabortag") + ("" if label == "gabortag" else f" ({model_name})"),
        notes=f"model.score() frame probabilities (hop {hop:g} s) for AUC; decisions from "
        "gabortag.detect_speech segments (shipped post-processing); raw probability > "
        f"{threshold:g} (onset of the model's tuned post-processing)",
        hop_s=hop,
        outputs=outputs,
        timed={"run": model.score, "detect_speech": detect},
        rows={
            "segments": (label, "detect_speech"),
            "threshold": (f"{label} p>{threshold:g}", "run"),
        },
    )


def make_silero() -> System:
    import onnxruntime as ort

    # Locate the bundled model without importing silero_vad (its __init__ imports torch).
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package silero-vad is not installed (run benchmarks/setup_peers.sh)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise RuntimeError(f"{path} not found")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    # Post-processing only (pure Python, but its module imports torch: see preload()).
    from silero_vad.utils_vad import get_speech_timestamps_from_probs as from_probs

    window, context_size = 512, 64
    sr = np.array(SR, dtype=np.int64)

    def run(wav: np.ndarray) -> np.ndarray:
        # silero_vad.utils_vad.OnnxWrapper.__call__ per 512-sample chunk, state reset per file;
        # the last chunk is zero-padded as get_speech_timestamps does.
        n = math.ceil(len(wav) / window)
        x = np.zeros(n * window, dtype=np.float32)
        x[: len(wav)] = wav
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros((1, context_size), dtype=np.float32)
        probs = np.empty(n, dtype=np.float32)
        for k in range(n):
            chunk = np.concatenate([context, x[None, k * window : (k + 1) * window]], axis=1)
            out, state = sess.run(None, {"input": chunk, "state": state, "sr": sr})
            probs[k] = out[0, 0]
            context = chunk[:, -context_size:]
        return probs

    def outputs(wav: np.ndarray) -> tuple[np.ndarray, Decisions]:
        probs = run(wav)
        # silero's shipped post-processing, get_speech_timestamps() with its defaults (threshold
        # 0.5, neg_threshold 0.35, min speech 250 ms, min silence 100 ms, pad 30 ms): its code,
        # called on these probabilities.
        ts = from_probs(probs.tolist(), sampling_rate=SR, audio_length_samples=len(wav))
        segments = [Segment(t["start"] / SR, t["end"] / SR) for t in ts]
        return probs, {"segments": segments, "p>0.5": frames_to_segments(probs > 0.5, window / SR)}

    return System(
        name="silero-vad",
        version=md.version("silero-vad"),
        notes="bundled silero_vad.onnx via onnxruntime, 512-sample chunks + 64-sample context, "
        "state carried across chunks (as OnnxWrapper); decisions: get_speech_timestamps "
        "defaults (threshold 0.5) and raw probability > 0.5; RTF excludes the post-processing",
        hop_s=window / SR,
        outputs=outputs,
        timed={"run": run},
        rows={"segments": ("silero-vad", "run"), "p>0.5": ("silero-vad p>0.5", "run")},
    )


def preload_native() -> None:
    """Load the C++ runtime ``setup_peers.sh`` unpacked into ``VENV/native`` (when the system
    has none), so that TEN VAD's library finds ``libc++.so.1`` already loaded."""
    import ctypes

    native = Path(sys.prefix) / "native"
    for name in ("libunwind.so.1", "libc++abi.so.1", "libc++.so.1"):
        if (native / name).exists():
            ctypes.CDLL(str(native / name), mode=ctypes.RTLD_GLOBAL)


def make_ten_vad() -> System:
    preload_native()
    from ten_vad import TenVad

    hop, threshold = 256, 0.5

    def run(wav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vad = TenVad(hop, threshold)  # a fresh state per file
        n = math.ceil(len(wav) / hop)
        pcm = np.zeros(n * hop, dtype=np.int16)
        pcm[: len(wav)] = np.clip(np.round(wav * 32768.0), -32768, 32767).astype(np.int16)
        probs, flags = np.empty(n, np.float32), np.empty(n, bool)
        for k in range(n):
            probs[k], flags[k] = vad.process(pcm[k * hop : (k + 1) * hop])
        return probs, flags

    def outputs(wav: np.ndarray) -> tuple[np.ndarray, Decisions]:
        probs, flags = run(wav)
        return probs, {"flags": frames_to_segments(flags, hop / SR)}

    return System(
        name="ten-vad",
        version=md.version("ten-vad"),
        notes="TenVad(hop_size=256, threshold=0.5) per file on 16-bit PCM; AUC from its "
        "probability, decisions its own flags (its default threshold 0.5)",
        hop_s=hop / SR,
        outputs=outputs,
        timed={"run": run},
        rows={"flags": ("ten-vad", "run")},
    )


def make_earshot() -> System:
    import earshot

    hop = 256

    def run(wav: np.ndarray) -> np.ndarray:
        detector = earshot.Detector()
        n = math.ceil(len(wav) / hop)
        x = np.zeros(n * hop, dtype=np.float32)
        x[: len(wav)] = np.clip(wav, -1, 1)
        return np.array([detector.predict_f32(x[k * hop : (k + 1) * hop]) for k in range(n)])

    def outputs(wav: np.ndarray) -> tuple[np.ndarray, Decisions]:
        probs = run(wav)
        return probs, {"p>0.5": frames_to_segments(probs >= 0.5, hop / SR)}

    return System(
        name="earshot",
        version=md.version("earshot"),
        notes="earshot.Detector().predict_f32 per 256-sample frame, new detector per file; "
        "decisions: score >= 0.5 (its documented default)",
        hop_s=hop / SR,
        outputs=outputs,
        timed={"run": run},
        rows={"p>0.5": ("earshot", "run")},
    )


def make_webrtcvad() -> System:
    import webrtcvad

    frame = 480  # 30 ms at 16 kHz
    vads = {mode: webrtcvad.Vad(mode) for mode in range(4)}

    def run_mode(mode: int) -> Callable[[np.ndarray], np.ndarray]:
        def run(wav: np.ndarray) -> np.ndarray:
            n = math.ceil(len(wav) / frame)
            pcm = np.zeros(n * frame, dtype=np.int16)
            pcm[: len(wav)] = np.clip(np.round(wav * 32768.0), -32768, 32767).astype(np.int16)
            b, step = pcm.tobytes(), 2 * frame
            return np.array(
                [vads[mode].is_speech(b[i : i + step], SR) for i in range(0, len(b), step)]
            )

        return run

    timed = {f"mode{m}": run_mode(m) for m in range(4)}

    def outputs(wav: np.ndarray) -> tuple[np.ndarray, Decisions]:
        decisions = {key: run(wav) for key, run in timed.items()}
        score = np.mean([d.astype(np.float64) for d in decisions.values()], axis=0)
        return score, {key: frames_to_segments(d, frame / SR) for key, d in decisions.items()}

    return System(
        name="webrtcvad",
        version=md.version("webrtcvad-wheels"),
        notes="30 ms frames of 16-bit PCM; AUC from the mean of the decisions of modes 0-3 "
        "(a 5-level score); F1/DER of mode 3 and of the mode with the lowest DER on development; "
        "RTF is that of one mode (mode 3)",
        hop_s=frame / SR,
        outputs=outputs,
        timed=timed,
        rows={"mode3": ("webrtcvad mode 3", "mode3")},
    )


def preload(name: str) -> None:
    """Imports that a system's package needs but its inference does not, kept out of its RSS.

    silero_vad imports torch at package import; we use only its pure-Python post-processing,
    so torch is imported here (with one thread) before the RSS baseline is taken.
    """
    if name == "silero":
        import silero_vad.utils_vad  # noqa: F401
        import torch

        torch.set_num_threads(1)


# ---------------------------------------------------------------------------------- scoring
def evaluate_system(
    system: System, sets: dict[str, list[int]], refs: list[Reference], wavs: list[np.ndarray]
) -> dict[str, SetMetrics]:
    """Per set, per decision: ``gabortag.tasks.vad.evaluate.evaluate`` over the set's files pooled
    (``sets`` maps a set name to indices into ``refs`` / ``wavs``)."""
    outs = [system.outputs(w) for w in wavs]
    res: dict[str, SetMetrics] = {}
    for name, idx in sets.items():
        res[name] = {}
        for decision in outs[0][1]:
            ev = evaluate(
                [refs[i] for i in idx],
                [outs[i][0] for i in idx],
                system.hop_s,
                [outs[i][1][decision] for i in idx],
            )
            res[name].setdefault("scores", {"auc": ev.roc_auc})
            res[name][decision] = {
                "auc": ev.roc_auc,
                "f1": ev.f1,
                "der": ev.detection_error_rate,
                "missed": ev.missed,
                "false_alarm": ev.false_alarm,
                "precision": ev.precision,
                "recall": ev.recall,
            }
    return res


def time_systems(
    systems: list[System], wavs: list[np.ndarray], repeats: int
) -> dict[str, dict[str, list[float]]]:
    """Seconds for each timed callable over all audio, per repetition, systems interleaved."""
    secs: dict[str, dict[str, list[float]]] = {s.name: {k: [] for k in s.timed} for s in systems}
    for _ in range(repeats):
        for s in systems:
            for key, fn in s.timed.items():
                t0 = time.perf_counter()
                for w in wavs:
                    fn(w)
                secs[s.name][key].append(time.perf_counter() - t0)
    return secs


# ---------------------------------------------------------------------------------- printing
def fmt(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.3f}"


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    head = ["system", "AUC", "F1", "DER", "miss", "FA", "RTF"]
    keys = ("auc", "f1", "der", "missed", "false_alarm")
    body = [[r["label"], *(fmt(r.get(k)) for k in keys), f"{r['rtf']:.3g}"] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    print(f"\n== {title} ==")
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for b in body:
        print(line(b))


def not_available(name: str, exc: Exception, unavailable: dict[str, str]) -> None:
    unavailable[name] = reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
    print(f"{name}: not available ({reason})")


def load_sets(data: Path, suites: Path | None) -> tuple[list[Reference], dict[str, list[int]], str]:
    """Every file's reference, the named sets (indices into them) and the set that selects
    among a system's options (webrtcvad's mode): meetings splits, or the suites' groups."""
    refs: list[Reference] = []
    sets: dict[str, list[int]] = {}

    def add(name: str, group: list[Reference]) -> None:
        sets[name] = list(range(len(refs), len(refs) + len(group)))
        refs.extend(group)

    if suites is None:
        for split in ("development", "test"):
            add(split, meetings_split(data, split))
        return refs, sets, "development"
    from gabortag.training.recipes.vad_suites import (
        load_suite,  # no torch: numpy and soundfile only
    )

    for split, title in (("dev", "development"), ("test", "test")):
        groups = load_suite(suites, data, split)
        first = len(refs)
        for group, group_refs in groups.items():
            add(f"{title}/{group}", group_refs)
        sets[f"{title} (pooled)"] = list(range(first, len(refs)))
    return refs, sets, "development (pooled)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="data folder")
    ap.add_argument(
        "--suites",
        type=Path,
        default=None,
        help="held-out suites (gabortag.training.recipes.vad_suites)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--repeats", type=int, default=5, help="timing repetitions (median taken)")
    ap.add_argument(
        "--timing-seconds",
        type=float,
        default=600.0,
        help="audio timed per repetition (the first files of all sets, up to this many seconds)",
    )
    ap.add_argument(
        "--systems",
        default=",".join(ALL_SYSTEMS),
        help=f"comma-separated subset of {','.join(ALL_SYSTEMS)}",
    )
    ap.add_argument(
        "--gabortag-model",
        default="vad",
        help="bundled model name or .onnx path given to gabortag.load_model (default: vad)",
    )
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="another gabortag model to score as its own rows (repeatable), e.g. ablations",
    )
    args = ap.parse_args(argv)
    factories: dict[str, Callable[[], System]] = {
        "gabortag": lambda: make_gabortag(args.gabortag_model),
        "silero": make_silero,
        "ten-vad": make_ten_vad,
        "earshot": make_earshot,
        "webrtcvad": make_webrtcvad,
    }
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in factories]
    if unknown:
        ap.error(f"unknown system(s) {unknown}; choose from {list(factories)}")
    for item in args.model:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            ap.error(f"--model takes LABEL=PATH.onnx, got {item!r}")
        factories[label] = lambda label=label, path=path: make_gabortag(path, label)
        wanted.append(label)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    if not (args.data / "meetings").is_dir():
        print(f"no meetings data at {args.data / 'meetings'} (give --data)", file=sys.stderr)
        return 2
    if args.suites is not None and not (args.suites / "dev").is_dir():
        print(
            f"no suites at {args.suites} (python -m gabortag.training.recipes.vad_suites)",
            file=sys.stderr,
        )
        return 2
    refs, sets, select_on = load_sets(args.data, args.suites)
    wavs = [load_audio(r.audio, SR)[0] for r in refs]
    timed_wavs, total = [], 0.0
    for w in wavs:
        if total >= args.timing_seconds:
            break
        timed_wavs.append(w)
        total += len(w) / SR
    audio_s = total
    for name, idx in sets.items():
        n = sum(int((refs[i].labels >= 0).sum()) for i in idx)
        sp = sum(int((refs[i].labels == 1).sum()) for i in idx)
        print(
            f"{name}: {len(idx)} files, {sum(len(wavs[i]) for i in idx) / SR:.1f} s, "
            f"{n} scored frames, {sp / max(n, 1):.1%} speech"
        )

    systems: list[System] = []
    unavailable: dict[str, str] = {}
    for name in wanted:
        try:
            before = rss_mb()
            preload(name)
            import_rss = rss_mb() - before
            before = rss_mb()
            system = factories[name]()
            for fn in system.timed.values():  # warm-up, and first-run allocations
                fn(wavs[0][: SR * 2])
        except Exception as exc:
            not_available(name, exc, unavailable)
            continue
        system.rss_mb = rss_mb() - before
        system.import_rss_mb = import_rss
        systems.append(system)

    metrics: dict[str, dict[str, SetMetrics]] = {}
    for system in list(systems):
        try:
            metrics[system.name] = evaluate_system(system, sets, refs, wavs)
        except Exception as exc:
            not_available(system.name, exc, unavailable)
            systems.remove(system)
    if not systems:
        print("no system could run", file=sys.stderr)
        return 1
    secs = time_systems(systems, timed_wavs, args.repeats)
    rtf = {n: {k: statistics.median(v) / audio_s for k, v in d.items()} for n, d in secs.items()}

    # webrtcvad: pick the mode with the lowest DER on the selection set, report it everywhere.
    best_mode = None
    if "webrtcvad" in metrics:
        dev = metrics["webrtcvad"][select_on]
        best_mode = min((f"mode{m}" for m in range(4)), key=lambda k: dev[k]["der"])

    results: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    for s in systems:
        rows = dict(s.rows)
        if s.name == "webrtcvad" and best_mode == "mode3":
            rows["mode3"] = ("webrtcvad mode 3 (= best dev)", "mode3")
        elif s.name == "webrtcvad" and best_mode:
            rows[best_mode] = (f"webrtcvad mode {best_mode[-1]} (best dev)", best_mode)
        for name in sets:
            for key, (label, timing) in rows.items():
                results[name].append(
                    {
                        "system": s.name,
                        "decision": key,
                        "label": label,
                        **metrics[s.name][name][key],
                        "rtf": rtf[s.name][timing],
                    }
                )

    for name in sets:
        print_table(name, results[name])
    print(
        f"\nRTF = processing s / audio s, median of {args.repeats} runs over "
        f"{audio_s:.0f} s (the first files of the sets), 1 thread, decoded audio in memory"
    )

    ratios: dict[str, float] = {}
    if "gabortag" in rtf:
        g = rtf["gabortag"]["run"]
        peers = {
            "silero-vad": rtf.get("silero-vad", {}).get("run"),
            "ten-vad": rtf.get("ten-vad", {}).get("run"),
            "earshot": rtf.get("earshot", {}).get("run"),
            "webrtcvad": rtf.get("webrtcvad", {}).get("mode3"),
        }
        for peer, p in peers.items():
            if p:
                ratios[peer] = g / p
                print(f"gabortag RTF / {peer} RTF = {g / p:.3f}")
        print(
            f"(gabortag RTF is model.score(); detect_speech end to end: "
            f"{rtf['gabortag']['detect_speech']:.3g})"
        )
    else:
        print(
            f"gabortag RTF ratios: gabortag not available "
            f"({unavailable.get('gabortag', 'not requested')})"
        )
    for s in systems:
        pre = s.import_rss_mb
        extra = f" (+{pre:.0f} MiB more for imports outside inference)" if pre >= 1 else ""
        print(
            f"{s.name} {s.version}: +{s.rss_mb:.0f} MiB RSS after load and warm-up{extra}; "
            f"{s.notes}"
        )

    if args.json:
        doc = {
            "benchmark": "VAD"
            + (" (held-out suites + meetings)" if args.suites else " (meetings)"),
            "data": str(args.data),
            "suites": str(args.suites) if args.suites else None,
            "gabortag_model": args.gabortag_model,
            "protocol": {
                "frame_s": FRAME_S,
                "label": "frame centre inside a reference speech turn",
                "scored": "frame centre inside the UEM",
                "pooling": "all scored frames of a set pooled",
                "evaluation": "gabortag.tasks.vad.evaluate.evaluate (as the model card)",
                "selection_set": select_on,
                "rtf": "median over repeats of processing seconds / audio seconds, "
                "decoded audio in memory, 1 thread",
                "repeats": args.repeats,
                "timed_audio_seconds": audio_s,
            },
            "sets": {name: [refs[i].file_id for i in idx] for name, idx in sets.items()},
            "environment": {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "processor": _cpu_name(),
                "onnxruntime": md.version("onnxruntime"),
                "numpy": np.__version__,
            },
            "systems": {
                s.name: {
                    "version": s.version,
                    "notes": s.notes,
                    "rss_mb": s.rss_mb,
                    "import_rss_mb": s.import_rss_mb,
                    "rtf": rtf[s.name],
                    "seconds": secs[s.name],
                }
                for s in systems
            },
            "unavailable": unavailable,
            "results": results,
            "all_decisions": metrics,
            "webrtcvad_best_dev_mode": best_mode,
            "rtf_ratio_gabortag_over": ratios,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
