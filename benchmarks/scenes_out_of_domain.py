"""What the scene models call audio they were not trained on: confident wrong labels per hour.

Each source is real audio that no training clip of the measured models comes from, with the
labels that are right for it:

- ``music``: game soundtracks (Debian ``warzone2100-music``, ``hedgewars-data``); right:
  ``music``.
- ``meetings``: the development and test meetings of ``../shared/data/meetings``; right:
  ``speech``.
- ``urbansound8k-fold10``: street sounds (for models without the UrbanSound8K labels);
- ``esc10-fold5``: ESC-10's fifth fold (for models without the ESC-10 labels).

A clip's right labels are its own class when the model has it, else ``background``, plus the
close labels of :data:`RELATED` (children playing may be called speech, street music music,
a rooster birdsong). Each file is cut into the model's own windows (``gabortag scenes``'
windowing); a window is a *confident wrong label* when its best label scores at least
``--confident`` (0.5) and is not a right one. Prints, per model and source, the hours scored,
the confident wrong labels per hour, the share of windows with no confident label, and what
the model calls the source most often; ``--json`` writes the same.

    python benchmarks/scenes_out_of_domain.py --model scenes --model urban \\
        --extra extdata/x --data ../shared/data \\
        --urban extdata/git/urbansound8k/UrbanSound8K/audio --json benchmarks/results/ood.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gabortag.inference import Model
from gabortag.io.audio import load_audio
from gabortag.tasks.scenes.api import SceneOptions, resolve_model, score_windows, windowing
from gabortag.training.recipes.scenes_data import esc10_rows
from gabortag.training.recipes.urban_data import urban_class, urban_files

RELATED = {
    "children_playing": {"speech"},
    "street_music": {"music"},
    "rooster": {"birdsong"},
}


@dataclass(frozen=True)
class Item:
    path: Path
    truth: str  # what the audio is (a class name, whether the model has it or not)


def right_labels(truth: str, labels: set[str]) -> set[str]:
    """The labels that are right for audio of class ``truth`` among a model's ``labels``."""
    own = {truth} if truth in labels else {"background"}
    return (own | RELATED.get(truth, set())) & labels


def music_items(extra: Path) -> list[Item]:
    share = extra / "usr" / "share" / "games"
    files = sorted((share / "warzone2100" / "music").rglob("*.opus"))
    files += sorted((share / "hedgewars" / "Data" / "Music").glob("*.ogg"))
    return [Item(p, "music") for p in files]


def meeting_items(data: Path) -> list[Item]:
    meet = data / "meetings"
    ids = (meet / "development.lst").read_text().split() + (meet / "test.lst").read_text().split()
    return [Item(meet / f"{i}.flac", "speech") for i in ids]


def urban_items(root: Path, fold: int = 10) -> list[Item]:
    return [Item(p, urban_class(p)) for p, _k in urban_files(root, (fold,))]


def esc10_items(data: Path, fold: int = 5) -> list[Item]:
    rows = [r for r in esc10_rows(data) if int(r["fold"]) == fold]
    return [Item(data / "esc10" / r["file"], r["label"]) for r in rows]


def windows(model: Model, item: Item, max_seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """``(seconds, scores)`` of each of the model's windows over the file's first
    ``max_seconds``."""
    wav, _info = load_audio(str(item.path), model.sample_rate)
    wav = wav[: int(max_seconds * model.sample_rate)]
    win = windowing(model, SceneOptions())
    for start, end, scores in score_windows(model, [wav], win):
        yield (end - start) / model.sample_rate, scores


def score_source(
    model: Model, items: list[Item], confident: float, max_seconds: float
) -> dict[str, Any]:
    labels = list(model.info.labels)
    seconds = 0.0
    n_windows = wrong = unsure = 0
    called: Counter[str] = Counter()
    wrong_as: Counter[str] = Counter()
    for item in items:
        right = right_labels(item.truth, set(labels))
        for dur, scores in windows(model, item, max_seconds):
            seconds += dur
            n_windows += 1
            best = int(np.argmax(scores))
            name = labels[best]
            if scores[best] < confident:
                unsure += 1
                called[f"(no label >= {confident:.2f})"] += 1
                continue
            called[name] += 1
            if name not in right:
                wrong += 1
                wrong_as[name] += 1
    hours = seconds / 3600
    return {
        "files": len(items),
        "hours": round(hours, 3),
        "windows": n_windows,
        "confident_wrong_per_hour": round(wrong / hours, 1) if hours else None,
        "confident_wrong_windows": wrong,
        "unsure_share": round(unsure / n_windows, 4) if n_windows else None,
        "called": dict(called.most_common(5)),
        "wrong_as": dict(wrong_as.most_common(5)),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="bundled name or .onnx path")
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--extra", type=Path, default=Path("extdata/x"), help="unpacked Debian packages")
    p.add_argument("--urban", type=Path, default=None, help="UrbanSound8K audio/ (fold10/ inside)")
    p.add_argument("--confident", type=float, default=0.5)
    p.add_argument("--max-seconds", type=float, default=180.0, help="per file (long tracks)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    sources: dict[str, list[Item]] = {
        "music": music_items(args.extra),
        "meetings": meeting_items(args.data),
    }
    if args.urban is not None:
        sources["urbansound8k-fold10"] = urban_items(args.urban)
    sources["esc10-fold5"] = esc10_items(args.data)
    results: dict[str, dict[str, Any]] = {}
    for name in args.model:
        model = resolve_model(name, "cpu", 1)
        labels = set(model.info.labels)
        results[name] = {}
        for src, items in sources.items():
            corpus = src not in ("music", "meetings")
            if corpus and sum(i.truth in labels for i in items) > len(items) / 2:
                continue  # the model's own corpus (its test fold): not out of domain
            results[name][src] = score_source(model, items, args.confident, args.max_seconds)
    print(f"confident (score >= {args.confident}) wrong labels per hour of audio")
    print(f"{'model':<28}{'source':<22}{'hours':>7}{'wrong/h':>9}{'unsure':>8}  most called")
    for name, by_source in results.items():
        for src, r in by_source.items():
            called = ", ".join(f"{k} {v}" for k, v in list(r["called"].items())[:3])
            print(
                f"{Path(name).stem:<28}{src:<22}{r['hours']:>7.2f}"
                f"{r['confident_wrong_per_hour']:>9.1f}{r['unsure_share'] * 100:>7.1f}%  {called}"
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"confident": args.confident, "max_seconds_per_file": args.max_seconds, **results}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
