"""Voice activity detection benchmark: gabortag against silero-vad and webrtcvad.

Runs every system in one process on one CPU thread over the ``meetings`` development and test
sets and prints, per split, ROC-AUC, frame F1, detection error rate (missed + false alarm) /
speech with its two parts, and the real-time factor; then gabortag's RTF over each peer's.

    bash benchmarks/setup_peers.sh                 # once: creates .venv-peers
    .venv-peers/bin/python benchmarks/vad.py --json vad.json

The references, the 10 ms frame grid and every metric come from ``gabortag.evaluation``, the
code that measured the model card (``gabortag/training/release_vad.py``), so gabortag's rows
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
SPLITS = ("development", "test")
ALL_SYSTEMS = ("gabortag", "silero", "webrtcvad")
Decisions = dict[str, list[Segment]]  # decision name -> speech segments of one file
Metrics = dict[str, float]  # metric name -> value
SplitMetrics = dict[str, Metrics]  # decision name ("scores" for the AUC alone) -> metrics


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


def make_gabortag(model_name: str) -> System:
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
        name="gabortag",
        version=md.version("gabortag"),
        notes=f"model.score() frame probabilities (hop {hop:g} s) for AUC; decisions from "
        "gabortag.detect_speech segments (shipped post-processing); raw probability > "
        f"{threshold:g} (onset of the model's tuned post-processing)",
        hop_s=hop,
        outputs=outputs,
        timed={"run": model.score, "detect_speech": detect},
        rows={
            "segments": ("gabortag", "detect_speech"),
            "threshold": (f"gabortag p>{threshold:g}", "run"),
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
    system: System, refs: dict[str, list[Reference]], wavs: dict[str, list[np.ndarray]]
) -> dict[str, SplitMetrics]:
    """Per split, per decision: ``gabortag.evaluation.evaluate`` over the split's files pooled."""
    res: dict[str, SplitMetrics] = {}
    for split in SPLITS:
        outs = [system.outputs(w) for w in wavs[split]]
        scores = [o[0] for o in outs]
        res[split] = {}
        for name in outs[0][1]:
            ev = evaluate(refs[split], scores, system.hop_s, [o[1][name] for o in outs])
            res[split].setdefault("scores", {"auc": ev.roc_auc})
            res[split][name] = {
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


def print_table(split: str, rows: list[dict[str, Any]]) -> None:
    head = ["system", "AUC", "F1", "DER", "miss", "FA", "RTF"]
    keys = ("auc", "f1", "der", "missed", "false_alarm")
    body = [[r["label"], *(fmt(r.get(k)) for k in keys), f"{r['rtf']:.3g}"] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    print(f"\n== meetings / {split} ==")
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for b in body:
        print(line(b))


def not_available(name: str, exc: Exception, unavailable: dict[str, str]) -> None:
    unavailable[name] = reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
    print(f"{name}: not available ({reason})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"), help="data folder")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--repeats", type=int, default=5, help="timing repetitions (median taken)")
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
    args = ap.parse_args(argv)
    factories: dict[str, Callable[[], System]] = {
        "gabortag": lambda: make_gabortag(args.gabortag_model),
        "silero": make_silero,
        "webrtcvad": make_webrtcvad,
    }
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in factories]
    if unknown:
        ap.error(f"unknown system(s) {unknown}; choose from {list(factories)}")
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    if not (args.data / "meetings").is_dir():
        print(f"no meetings data at {args.data / 'meetings'} (give --data)", file=sys.stderr)
        return 2
    refs = {split: meetings_split(args.data, split) for split in SPLITS}
    wavs = {split: [load_audio(r.audio, SR)[0] for r in rs] for split, rs in refs.items()}
    all_wavs = [w for ws in wavs.values() for w in ws]
    audio_s = sum(len(w) for w in all_wavs) / SR
    for split, rs in refs.items():
        n = sum(int((r.labels >= 0).sum()) for r in rs)
        sp = sum(int((r.labels == 1).sum()) for r in rs)
        print(
            f"{split}: {len(rs)} files, {sum(len(w) for w in wavs[split]) / SR:.1f} s, "
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
                fn(all_wavs[0][: SR * 2])
        except Exception as exc:
            not_available(name, exc, unavailable)
            continue
        system.rss_mb = rss_mb() - before
        system.import_rss_mb = import_rss
        systems.append(system)

    metrics: dict[str, dict[str, SplitMetrics]] = {}
    for system in list(systems):
        try:
            metrics[system.name] = evaluate_system(system, refs, wavs)
        except Exception as exc:
            not_available(system.name, exc, unavailable)
            systems.remove(system)
    if not systems:
        print("no system could run", file=sys.stderr)
        return 1
    secs = time_systems(systems, all_wavs, args.repeats)
    rtf = {n: {k: statistics.median(v) / audio_s for k, v in d.items()} for n, d in secs.items()}

    # webrtcvad: pick the mode with the lowest DER on development, report it on test too.
    best_mode = None
    if "webrtcvad" in metrics:
        dev = metrics["webrtcvad"]["development"]
        best_mode = min((f"mode{m}" for m in range(4)), key=lambda k: dev[k]["der"])

    results: dict[str, list[dict[str, Any]]] = {split: [] for split in SPLITS}
    for s in systems:
        rows = dict(s.rows)
        if s.name == "webrtcvad" and best_mode == "mode3":
            rows["mode3"] = ("webrtcvad mode 3 (= best dev)", "mode3")
        elif s.name == "webrtcvad" and best_mode:
            rows[best_mode] = (f"webrtcvad mode {best_mode[-1]} (best dev)", best_mode)
        for split in SPLITS:
            for key, (label, timing) in rows.items():
                results[split].append(
                    {
                        "system": s.name,
                        "decision": key,
                        "label": label,
                        **metrics[s.name][split][key],
                        "rtf": rtf[s.name][timing],
                    }
                )

    for split in SPLITS:
        print_table(split, results[split])
    print(
        f"\nRTF = processing s / audio s, median of {args.repeats} runs over "
        f"{audio_s:.0f} s (development + test), 1 thread, decoded audio in memory"
    )

    ratios: dict[str, float] = {}
    if "gabortag" in rtf:
        g = rtf["gabortag"]["run"]
        peers = {
            "silero-vad": rtf.get("silero-vad", {}).get("run"),
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
            "benchmark": "meetings VAD",
            "data": str(args.data),
            "gabortag_model": args.gabortag_model,
            "protocol": {
                "frame_s": FRAME_S,
                "label": "frame centre inside an RTTM turn",
                "scored": "frame centre inside the UEM",
                "pooling": "all scored frames of a split pooled",
                "evaluation": "gabortag.evaluation.meetings_split + evaluate (as the model card)",
                "rtf": "median over repeats of processing seconds / audio seconds, "
                "development + test, decoded audio in memory, 1 thread",
                "repeats": args.repeats,
                "audio_seconds": audio_s,
            },
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
