"""Clips for the README's "train a scene classifier on your own clips" walkthrough.

Two speakers of the Free Spoken Digit Dataset as two classes, a folder per class, as a user
would arrange them: ``OUT/train/<speaker>/`` holds 100 clips per speaker (takes 0-9 of every
digit) and ``OUT/test/<speaker>/`` 50 other clips per speaker (takes 10-14), for
``gabortag scenes`` and ``gabortag eval scenes``.

    python scripts/make_walkthrough_clips.py ../shared/data walkthrough
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

SPEAKERS = ("george", "jackson")


def main(data: Path, out: Path) -> None:
    with open(data / "fsdd" / "meta.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    counts = {"train": 0, "test": 0}
    for row in rows:
        take = int(row["take"])
        if row["speaker"] not in SPEAKERS or take >= 15:
            continue
        split = "train" if take < 10 else "test"
        target = out / split / row["speaker"] / Path(row["file"]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / "fsdd" / row["file"], target)
        counts[split] += 1
    print(f"{counts['train']} training and {counts['test']} test clips in {out}")


if __name__ == "__main__":
    main(
        Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"),
        Path(sys.argv[2] if len(sys.argv) > 2 else "walkthrough"),
    )
