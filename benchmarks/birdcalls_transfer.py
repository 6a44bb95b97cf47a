"""Training a model for a new bird: learning curves of ``gabortag train birdcalls``.

For each bird, its songs are split by file with a fixed seed: a test set (Bird0 of
``../shared/data/bengalese_finch``: its standard test files, number mod 5 == 4; the other birds:
``--test-fraction`` of their songs, drawn with ``--seed``), and the other songs in a fixed random
order. The first songs of that order that add up to 1, 2, 4 minutes of recording (and all of
them), plus for each note type they lack the next song that has one, are the training sets;
each is trained twice, fine-tuned from the bundled ``birdcalls`` model and from scratch, by
the command a user runs::

    gabortag train birdcalls --audio BIRD_DIR --annotations SUBSET.csv --out RUN [--from-scratch] \\
        --threads 1

(its own validation split, early stopping and decoding choice included), and the exported
model is scored on the bird's test songs with :func:`gabortag.evaluate_bird_files`, as
``gabortag eval birdcalls`` does: note error rate (Levenshtein distance of the decoded label
sequence to the annotated one, over the number of annotated notes), note-type accuracy (the
type the model gives each annotated note), frame error rate (10 ms frames), and the training
wall time on one thread.

Birds: ``--bird0 DIR`` (the corpus the bundled model was trained on: its rows are the
reference point, not a new bird) and evTAF folders ``--cbins NAME=DIR`` (``.cbin`` + ``.rec`` +
``.cbin.not.mat``, searched recursively; songs without their ``.cbin`` are left out), e.g. the
Bengalese finches gy6or6 and bl26lb16 of vocalpy's hybrid-vocal-classifier test data::

    python benchmarks/birdcalls_transfer.py --bird0 ../shared/data/bengalese_finch \\
        --cbins gy6or6=DIR/cbins/gy6or6 bl26lb16=DIR/cbins/bl26lb16 \\
        --work runs/transfer --jobs 2 --json benchmarks/results/birdcalls_transfer.json

Runs are resumable: a run whose ``result.json`` exists in ``--work`` is not trained again.
Published reference: TweetyNet (Cohen et al. 2022, eLife 11:e63853, Fig. 4) reaches syllable
error rates of about 1-5 % on Bengalese finches with 1-4 minutes of training song (lower with
more), scored on held-out songs of the same bird.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gabortag.io.annotations import read_event_annotations
from gabortag.io.audio import probe

Row = tuple[str, float, float, str]


@dataclass(frozen=True)
class Bird:
    """One bird: its folder, annotation rows (file relative to ``root``), split and song
    durations (seconds)."""

    name: str
    root: Path
    rows: tuple[Row, ...]
    test: tuple[str, ...]
    pool: tuple[str, ...]  # training songs, in the order the subsets take them
    seconds: dict[str, float]
    reference: bool = False
    labelset: tuple[str, ...] | None = None


def cbin_bird(name: str, root: Path, test_fraction: float, seed: int) -> Bird:
    """An evTAF folder: every ``.not.mat`` whose ``.cbin`` is present."""
    marks = sorted(
        p for p in root.rglob("*.cbin.not.mat") if Path(str(p).removesuffix(".not.mat")).exists()
    )
    rows = [
        (e.file, e.onset_s, e.offset_s, e.label)
        for m in marks
        for e in read_event_annotations(m, root)
    ]
    files = sorted({r[0] for r in rows})
    order = [files[i] for i in np.random.default_rng(seed).permutation(len(files))]
    n_test = max(1, round(test_fraction * len(files)))
    return _bird(name, root, rows, order[:n_test], order[n_test:])


def bird0(root: Path, seed: int) -> Bird:
    """Bird0 of the Bengalese finch corpus: the standard split (test: number mod 5 == 4)."""
    rows = [
        (e.file, e.onset_s, e.offset_s, e.label)
        for e in read_event_annotations(root / "notes.csv", root)
    ]
    files = sorted({r[0] for r in rows})
    test = [f for f in files if int(Path(f).stem) % 5 == 4]
    rest = [f for f in files if f not in test]
    order = [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))]
    return _bird("Bird0", root, rows, test, order, reference=True)


def _bird(
    name: str,
    root: Path,
    rows: Sequence[Row],
    test: Sequence[str],
    pool: Sequence[str],
    reference: bool = False,
) -> Bird:
    seconds = {f: probe(root / f).duration for f in [*test, *pool]}
    return Bird(name, root, tuple(rows), tuple(sorted(test)), tuple(pool), seconds, reference)


#: The label sets the birds' own lab declares (hybrid-vocal-classifier's configs, e.g.
#: ``tests/data_for_tests/config.yml/test_parse_extract.config.yml``: ``labels_to_use``);
#: notes with other labels are left out of training and scores, as vak does with its labelset.
LABELSETS = {"gy6or6": "iabcdefghjk", "bl26lb16": "iabcdef"}


def subset(bird: Bird, minutes: float | None) -> list[str]:
    """The first songs of the pool adding up to ``minutes`` of recording (``None``: all).

    As vak's learning curves do, a subset holds every type of the bird's label set (all its
    labels when it declares none): for each type the first songs lack, the next song of the
    pool that has one is added, so a subset may run past ``minutes``.
    """
    if minutes is None:
        return list(bird.pool)
    out, total = [], 0.0
    for f in bird.pool:
        if total >= minutes * 60:
            break
        out.append(f)
        total += bird.seconds[f]
    wanted = set(bird.labelset or {r[3] for r in bird.rows})
    by_song: dict[str, set[str]] = {}
    for r in bird.rows:
        by_song.setdefault(r[0], set()).add(r[3])
    for label in sorted(wanted):
        if any(label in by_song.get(f, set()) for f in out):
            continue
        extra = next(
            (f for f in bird.pool if f not in out and label in by_song.get(f, set())), None
        )
        if extra is not None:
            out.append(extra)
    return out


def write_table(path: Path, rows: Sequence[Row], files: Sequence[str]) -> None:
    chosen = set(files)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "onset_s", "offset_s", "label"])
        w.writerows(r for r in rows if r[0] in chosen)


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one model with the CLI and score it on the bird's test songs (cached)."""
    run = Path(job["run"])
    done = run / "result.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    from gabortag.tasks.birdcalls.evaluate import evaluate_bird_files

    run.mkdir(parents=True, exist_ok=True)
    train_csv, test_csv = run / "train.csv", run / "test.csv"
    write_table(train_csv, job["rows"], job["train"])
    write_table(test_csv, job["rows"], job["test"])
    cmd = [
        job["gabortag"],
        "train",
        "birdcalls",
        "--audio",
        job["root"],
        "--annotations",
        str(train_csv),
        "--out",
        str(run / "model"),
        "--threads",
        "1",
        *(["--from-scratch"] if job["init"] == "scratch" else []),
        *job["extra"],
    ]
    t0 = time.time()
    log = run / "train.log"
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    seconds = time.time() - t0
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        print(f"{run}: training failed ({proc.returncode}): {tail[0]}", file=sys.stderr)
        return {
            "bird": job["bird"],
            "minutes": job["minutes"],
            "init": job["init"],
            "failed": tail[0],
        }
    card = json.loads((run / "model" / "model.card.json").read_text())
    ev = evaluate_bird_files(
        run / "model" / "model.onnx",
        [Path(job["root"]) / f for f in job["test"]],
        test_csv,
        threads=1,
    )
    assert ev.overall is not None and not ev.failures, ev.failures
    overall = ev.overall.to_dict()
    result = {
        "bird": job["bird"],
        "minutes": job["minutes"],
        "init": job["init"],
        "train_songs": len(job["train"]),
        "train_minutes": round(job["train_seconds"] / 60, 2),
        "train_notes": sum(1 for r in job["rows"] if r[0] in set(job["train"])),
        "test_songs": len(job["test"]),
        "note_error_rate": overall["note_error_rate"],
        "note_type_accuracy": overall["note_type_accuracy"],
        "frame_error_rate": overall["frame_error_rate"],
        "segment_f1": overall["segmentation"]["f1"],
        "epochs_run": card["training"].get("epochs"),
        "best_epoch": card["training"].get("best_epoch"),
        "validation_note_error_rate": card["metrics"]["validation"]["note_error_rate"],
        "train_seconds_1_thread": round(seconds, 1),
    }
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(done)
    return result


def jobs_for(
    bird: Bird, minutes: Sequence[str], inits: Sequence[str], work: Path, extra: Sequence[str]
) -> list[dict[str, Any]]:
    exe = shutil.which("gabortag") or str(Path(sys.executable).with_name("gabortag"))
    labels = ["--labels", ",".join(bird.labelset)] if bird.labelset else []
    out = []
    for m in minutes:
        files = subset(bird, None if m == "all" else float(m))
        if m != "all" and len(files) == len(bird.pool):
            continue  # the same songs as "all"
        for init in inits:
            out.append(
                {
                    "bird": bird.name,
                    "minutes": m,
                    "init": init,
                    "root": str(bird.root),
                    "rows": list(bird.rows),
                    "train": files,
                    "train_seconds": sum(bird.seconds[f] for f in files),
                    "test": list(bird.test),
                    "run": str(work / bird.name / f"{m}min-{init}"),
                    "gabortag": exe,
                    "extra": [*labels, *extra],
                }
            )
    return out


def table(results: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'bird':10} {'train':>9} {'init':8} {'NER %':>6} {'type acc %':>10} "
        f"{'frame err %':>11} {'epochs':>6} {'train s':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        size = f"{r['train_minutes']:.1f} min"
        lines.append(
            f"{r['bird']:10} {size:>9} {r['init']:8} {100 * r['note_error_rate']:6.2f} "
            f"{100 * r['note_type_accuracy']:10.2f} {100 * r['frame_error_rate']:11.2f} "
            f"{r['epochs_run'] or 0:6d} {r['train_seconds_1_thread']:8.0f}"
        )
    return "\n".join(lines)


def markdown(results: Sequence[dict[str, Any]]) -> str:
    """The learning curves as a markdown table: a row per bird and training set, the note
    error rate, note-type accuracy, frame error rate and training time of each init."""
    lines = [
        "| bird | training song | fine-tuned: NER / type acc. / frame err. (time) "
        "| from scratch: NER / type acc. / frame err. (time) |",
        "|---|---|---|---|",
    ]
    cells: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in results:
        cells.setdefault((r["bird"], r["minutes"]), {})[r["init"]] = r
    for (bird, minutes), runs in cells.items():
        size = next(iter(runs.values()))
        songs = ", all songs" if minutes == "all" else ""
        row = [bird, f"{size['train_minutes']:.1f} min ({size['train_notes']} notes{songs})"]
        for init in ("bundled", "scratch"):
            r = runs.get(init)
            if r is None:
                row.append("-")
                continue
            minutes = r["train_seconds_1_thread"] / 60
            row.append(
                f"{100 * r['note_error_rate']:.2f} % / {100 * r['note_type_accuracy']:.1f} % / "
                f"{100 * r['frame_error_rate']:.2f} % ({minutes:.0f} min)"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bird0", type=Path, default=None, help="the Bengalese finch corpus folder")
    p.add_argument("--cbins", nargs="*", default=[], metavar="NAME=DIR")
    p.add_argument("--minutes", nargs="+", default=["1", "2", "4", "all"])
    p.add_argument("--inits", nargs="+", default=["bundled", "scratch"])
    p.add_argument("--test-fraction", type=float, default=0.4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=Path("runs/transfer"))
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument(
        "--collect", action="store_true", help="only gather the runs already done in --work"
    )
    p.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="BIRD:MINUTES:INIT",
        help="runs left out, e.g. Bird0:all:scratch",
    )
    p.add_argument(
        "--labelsets",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train and score on each bird's declared label set (LABELSETS)",
    )
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--markdown", type=Path, default=None, help="also write the learning curves as a table"
    )
    p.add_argument("--train-args", nargs=argparse.REMAINDER, default=[], help="more train options")
    args = p.parse_args(argv)
    birds = [bird0(args.bird0, args.seed)] if args.bird0 else []
    for spec in args.cbins:
        name, folder = spec.split("=", 1)
        bird = cbin_bird(name, Path(folder), args.test_fraction, args.seed)
        labelset = LABELSETS.get(name) if args.labelsets else None
        birds.append(dataclasses.replace(bird, labelset=tuple(labelset) if labelset else None))
    jobs = [
        j for b in birds for j in jobs_for(b, args.minutes, args.inits, args.work, args.train_args)
    ]
    # In the order of --inits, longest first within each.
    jobs.sort(key=lambda j: (args.inits.index(j["init"]), -j["train_seconds"]))
    skip = set(args.skip)
    jobs = [j for j in jobs if f"{j['bird']}:{j['minutes']}:{j['init']}" not in skip]
    if args.collect:
        jobs = [j for j in jobs if (Path(j["run"]) / "result.json").exists()]
    with ProcessPoolExecutor(args.jobs) as pool:
        ran = list(pool.map(run_one, jobs))
    failed = [r for r in ran if "failed" in r]
    results = [r for r in ran if "failed" not in r]
    order = {b.name: i for i, b in enumerate(birds)}
    results.sort(key=lambda r: (order[r["bird"]], r["train_minutes"], r["init"] != "bundled"))
    print(table(results))
    if args.json:
        payload = {
            "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
            "birds": {
                b.name: {
                    "folder_name": b.root.name,
                    "songs": len(b.seconds),
                    "test_songs": len(b.test),
                    "test_minutes": round(sum(b.seconds[f] for f in b.test) / 60, 2),
                    "labels": sorted({r[3] for r in b.rows}),
                    "labelset": "".join(b.labelset) if b.labelset else None,
                    "test_notes_left_out": sum(
                        1
                        for r in b.rows
                        if r[0] in set(b.test) and b.labelset and r[3] not in b.labelset
                    ),
                    "reference_bird_of_the_bundled_model": b.reference,
                }
                for b in birds
            },
            "train_args": args.train_args,
            "left_out_runs": sorted(skip),
            "failed_runs": failed,
            "cpu_threads": 1,
            "os_cpus": os.cpu_count(),
            "results": results,
        }
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1) + "\n")
        tmp.replace(args.json)
    if args.markdown:
        args.markdown.write_text(markdown(results) + "\n")


if __name__ == "__main__":
    main()
