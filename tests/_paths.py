"""Where the tests find their files, whatever folder of ``tests/`` a test module is in."""

from __future__ import annotations

import os
from pathlib import Path

#: ``tests/``.
TESTS = Path(__file__).resolve().parent

#: The checkout's root (``models/``, ``benchmarks/``, ``scripts/``).
REPO = TESTS.parent

#: The committed test clips (made by ``scripts/make_test_clips.py``).
DATA = TESTS / "data"

#: A 16 kHz mono clip of synthesised speech in noise, with its reference beside it.
SPEECH = DATA / "speech_noise.flac"

#: The real labelled recordings of ``../shared/data`` (or ``$GABORTAG_DATA``); tests that need
#: them skip where the folder is absent.
SHARED = Path(os.environ.get("GABORTAG_DATA", REPO.parent / "shared" / "data"))
