"""Bundled models: the manifest, lookup by name or path, sha256 verification, metadata.

``models/manifest.json`` (shipped inside the wheel as ``gabortag/_models``) lists each model
file with its sha256, task, labels and sample rate; the same facts are stored in the ONNX
metadata under the keys of :data:`METADATA_KEYS`, and a model card (JSON) sits beside it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ModelError

METADATA_KEYS = (
    "gabortag.task",  # "vad"
    "gabortag.name",  # model name
    "gabortag.version",  # model version
    "gabortag.sample_rate",  # Hz of the waveform input
    "gabortag.hop",  # samples between output frames
    "gabortag.receptive_field",  # samples of padded input one output frame sees
    "gabortag.left_pad",  # zeros the runtime puts before the audio
    "gabortag.labels",  # JSON list of output labels
    "gabortag.postprocess",  # JSON: default decision options
    "gabortag.config",  # JSON: architecture hyper-parameters
    "gabortag.gabor",  # JSON: the four parameters of every Gabor kernel
)


def models_dir() -> Path:
    """Folder holding ``manifest.json``: inside the installed package, or the source tree's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_models", here.parent / "models"):
        if (candidate / "manifest.json").is_file():
            return candidate
    raise ModelError(
        f"no bundled models found (looked in {here / '_models'} and {here.parent / 'models'}); "
        "reinstall gabortag with `pip install .` from a full checkout"
    )


@dataclass(frozen=True)
class ModelEntry:
    """One manifest row."""

    name: str
    file: str
    sha256: str
    task: str
    labels: tuple[str, ...]
    sample_rate: int
    card: str | None = None
    aliases: tuple[str, ...] = ()
    size_bytes: int = 0
    licence: str = ""  # terms of use of the weights, when narrower than gabortag's MIT
    checkpoint: str | None = None  # the training checkpoint (.pt) to fine-tune from
    checkpoint_sha256: str | None = None


def manifest() -> list[ModelEntry]:
    """All bundled models, in manifest order."""
    path = models_dir() / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _entries(data)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelError(f"{path}: unreadable model manifest ({err}); reinstall gabortag") from err


def _entries(data: dict[str, Any]) -> list[ModelEntry]:
    return [
        ModelEntry(
            name=m["name"],
            file=m["file"],
            sha256=m["sha256"],
            task=m["task"],
            labels=tuple(m["labels"]),
            sample_rate=int(m["sample_rate"]),
            card=m.get("card"),
            aliases=tuple(m.get("aliases", ())),
            size_bytes=int(m.get("size_bytes", 0)),
            licence=str(m.get("licence", "")),
            checkpoint=m.get("checkpoint"),
            checkpoint_sha256=m.get("checkpoint_sha256"),
        )
        for m in data["models"]
    ]


def find_entry(name: str) -> ModelEntry:
    """Manifest entry by name or alias; a clear error lists the known names."""
    entries = manifest()
    for entry in entries:
        if name == entry.name or name in entry.aliases:
            return entry
    known = ", ".join(e.name for e in entries)
    raise ModelError(f"unknown model {name!r}; bundled models: {known} (or give a .onnx path)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(entry: ModelEntry) -> dict[str, Any]:
    """The model card of a bundled model (empty if it has none)."""
    if entry.card is None:
        return {}
    card: dict[str, Any] = json.loads((models_dir() / entry.card).read_text(encoding="utf-8"))
    return card


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model file: where it is and what the manifest promised about it."""

    name: str
    path: Path
    sha256: str | None
    card: dict[str, Any] = field(default_factory=dict)


def resolve(name_or_path: str | Path) -> ModelSpec:
    """A bundled model name (verified against its sha256) or a path to an ``.onnx`` file."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(".onnx") or "/" in text
    if looks_like_path or (Path(text).is_file() and not _is_bundled(text)):
        path = Path(text)
        if not path.is_file():
            raise ModelError(f"model file {text!r} does not exist")
        card_path = path.with_name(path.name.removesuffix(".onnx") + ".card.json")
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
        return ModelSpec(name=path.stem, path=path, sha256=None, card=card)
    entry = find_entry(text)
    path = _bundled_file(entry.file, entry.sha256, f"bundled model {entry.name}")
    return ModelSpec(name=entry.name, path=path, sha256=entry.sha256, card=read_card(entry))


def bundled_checkpoint(name: str) -> Path:
    """The training checkpoint (``.pt``) of bundled model ``name``, verified against the sha256
    in the manifest: what ``gabortag train --init NAME`` fine-tunes.

    Raises:
        ModelError: unknown model, no checkpoint shipped, file missing or failing its checksum.
    """
    entry = find_entry(name)
    if entry.checkpoint is None or entry.checkpoint_sha256 is None:
        raise ModelError(f"bundled model {entry.name!r} ships no training checkpoint")
    return _bundled_file(
        entry.checkpoint, entry.checkpoint_sha256, f"bundled checkpoint of {entry.name}"
    )


def _bundled_file(name: str, sha256: str, what: str) -> Path:
    """``models_dir() / name`` once its sha256 is ``sha256``; ``ModelError`` (saying ``what``
    the file is) when it is missing or differs."""
    path = models_dir() / name
    if not path.is_file():
        raise ModelError(f"{what}: file {path} is missing; reinstall gabortag")
    actual = _verified_sha(str(path), path.stat().st_size, path.stat().st_mtime_ns)
    if actual != sha256:
        raise ModelError(
            f"{what} at {path} fails its checksum "
            f"(sha256 {actual[:12]}..., manifest {sha256[:12]}...); reinstall gabortag"
        )
    return path


def _is_bundled(name: str) -> bool:
    try:
        return any(name == e.name or name in e.aliases for e in manifest())
    except ModelError:
        return False


@lru_cache(maxsize=16)
def _verified_sha(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(Path(path))
