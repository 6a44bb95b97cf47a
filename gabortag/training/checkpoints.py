"""A training checkpoint (``.pt``) → an ONNX model the runtime loads, and its card beside it.

The task is read from the checkpoint: a scene classifier's config has ``n_classes`` (and the
checkpoint ``labels``), a bird call tagger's holds ``classes`` (its call types), a voice
activity network's only ``model`` and ``config`` (plus ``step``). The ONNX metadata
comes from the release scripts (:func:`~.recipes.release_vad.vad_metadata`,
:func:`~.recipes.release_birdcalls.metadata`), and the graph is checked against torch
on random input before it is written (:func:`gabortag.training.export.export_onnx`).

Export measures nothing: the card holds no metrics, and no tuned decision options unless the
checkpoint carries them (``postprocess``); the runtime then uses the generic defaults. The
release scripts tune and measure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelError, OutputError
from ..models import sha256_of
from ..tasks import TASKS
from ..tasks.birdcalls.decode import EventOptions
from ..tasks.vad.decode import VadOptions
from .export import export_onnx, release_facts, write_json
from .nets.framenet import VadNet, from_checkpoint
from .nets.scenenet import SceneNet
from .nets.scenenet import from_checkpoint as scene_from_checkpoint
from .recipes.release_birdcalls import metadata as bird_metadata
from .recipes.release_scenes import metadata as scene_metadata
from .recipes.release_vad import vad_metadata

#: Samples of the random input the export is checked on: the receptive field plus this many hops.
CHECK_HOPS = 300


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`export_checkpoint` wrote: the ONNX file, its card file, and the card."""

    onnx: Path
    card_path: Path
    card: dict[str, Any]


def card_path_of(onnx_path: Path) -> Path:
    """``<stem>.card.json`` beside ``<stem>.onnx``, where :func:`gabortag.models.resolve` looks."""
    return onnx_path.with_name(onnx_path.name.removesuffix(".onnx") + ".card.json")


def load_training_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint dict, loaded with ``weights_only=True`` (no code runs from the file).

    Raises ``ModelError`` naming the file when it is not a torch checkpoint of a dict.
    """
    try:
        ck = torch.load(os.fspath(path), weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise ModelError(f"{os.fspath(path)}: does not exist") from None
    except Exception as err:  # torch raises many types (UnpicklingError, RuntimeError, EOFError)
        raise ModelError(
            f"{os.fspath(path)}: not a torch checkpoint of plain data ({_load_reason(err)}); "
            "give a .pt written by `gabortag train` or the training scripts"
        ) from None
    if not isinstance(ck, dict):
        raise ModelError(
            f"{os.fspath(path)}: holds a {type(ck).__name__}, not a checkpoint dict with "
            "'model' and 'config'"
        )
    return ck


def _load_reason(err: Exception) -> str:
    """One line on why ``torch.load`` failed (its weights-only message is a paragraph)."""
    text = str(err)
    marker = "WeightsUnpickler error:"
    if marker in text:
        lines = [line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()]
        return "the weights-only loader refused it: " + (lines[0] if lines else "unknown data")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def checkpoint_task(ck: Mapping[str, Any]) -> str:
    """The checkpoint's ``task`` entry when it has one (one of ``vad``, ``birdcalls``,
    ``scenes``); else, from older checkpoints' keys: ``"scenes"`` when ``ck``'s config has
    ``n_classes``, ``"birdcalls"`` when ``ck`` has ``classes``, ``"vad"`` when it has ``model``
    and ``config`` only; ``ModelError`` otherwise."""
    missing = [k for k in ("model", "config") if k not in ck]
    if missing:
        found = ", ".join(map(repr, sorted(map(str, ck)))) or "nothing"
        raise ModelError(
            f"not a gabortag checkpoint: it lacks {' and '.join(map(repr, missing))} "
            f"(found: {found})"
        )
    task = ck.get("task")
    if task is not None:
        if task not in TASKS:
            raise ModelError(f"checkpoint of an unknown task {task!r} ({', '.join(TASKS)})")
        return str(task)
    if isinstance(ck["config"], Mapping) and "n_classes" in ck["config"]:
        return "scenes"
    return "birdcalls" if "classes" in ck else "vad"


def _network(ck: Mapping[str, Any], source: str, task: str) -> VadNet | SceneNet:
    try:
        if TASKS[task].network == "clips":
            return scene_from_checkpoint(ck)
        return from_checkpoint(ck)
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelError(
            f"{source}: its config and weights do not make a network ({reason})"
        ) from None


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    force: bool = False,
) -> ExportedModel:
    """Export ``checkpoint`` to ONNX (``output``, default the checkpoint's path with ``.onnx``)
    and write its card (``<stem>.card.json``) beside it.

    Args:
        checkpoint: a ``.pt`` of ``gabortag train``, the training scripts or the release step.
        output: the ``.onnx`` file to write.
        name: the model's name in its metadata and outputs (default: ``output``'s stem).
        force: overwrite an existing ONNX file or card.

    Returns:
        the paths written and the card (sha256 of the ONNX file, parameters, task, labels,
        architecture, source checkpoint; no metrics).

    Raises:
        ModelError: the checkpoint cannot be read or is not a gabortag checkpoint.
        OutputError: ``output`` does not end in ``.onnx``, or it or its card exists and
            ``force`` is false.
        RuntimeError: the ONNX graph differs from torch (nothing is written then).
    """
    source = Path(checkpoint)
    onnx_path = Path(output) if output is not None else source.with_suffix(".onnx")
    if onnx_path.suffix.lower() != ".onnx":
        raise OutputError(f"{onnx_path}: the output must end in .onnx")
    card_path = card_path_of(onnx_path)
    if not force:
        existing = [str(p) for p in (onnx_path, card_path) if p.exists()]
        if existing:
            raise OutputError(
                f"{' and '.join(existing)} already exist{'s' * (len(existing) == 1)}; "
                "choose another output or overwrite (force=True, --force)"
            )
    ck = load_training_checkpoint(source)
    try:
        task = checkpoint_task(ck)
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    net = _network(ck, str(source), task)
    model_name = name or onnx_path.stem
    post = ck.get("postprocess")
    rate = net.config.sample_rate
    options: dict[str, Any] | None
    if isinstance(net, SceneNet):
        labels = [str(x) for x in ck.get("labels", [])]
        if len(labels) != net.config.n_classes:
            raise ModelError(
                f"{source}: {len(labels)} labels but the network has {net.config.n_classes} "
                "outputs (a scenes checkpoint holds one label per output in 'labels')"
            )
        meta = scene_metadata(net, model_name, labels)
        options = json.loads(meta["gabortag.postprocess"])
        example = int(meta["gabortag.receptive_field"])
        timing = {
            "window_seconds": example / rate,
            "hop_seconds": int(meta["gabortag.hop"]) / rate,
            "min_window_seconds": net.min_samples / rate,
        }
    else:
        if task == "birdcalls":
            labels = ["background", *map(str, ck["classes"])]
            if net.config.n_outputs != len(labels):
                raise ModelError(
                    f"{source}: {len(ck['classes'])} classes but the network has "
                    f"{net.config.n_outputs} outputs (background + one per class expected)"
                )
            bird_options = EventOptions.from_dict(post) if post else None
            meta = bird_metadata(net, model_name, labels, bird_options)
            options = bird_options.to_dict() if bird_options else None
        else:
            labels = ["speech"]
            vad_options = VadOptions.from_dict(post) if post else None
            meta = vad_metadata(net, model_name, vad_options)
            options = vad_options.to_dict() if vad_options else None
        example = net.receptive_field + CHECK_HOPS * net.hop
        timing = {
            "hop_seconds": net.hop / rate,
            "receptive_field_seconds": net.receptive_field / rate,
        }
    worst = export_onnx(net, onnx_path, meta, example, window_classes=isinstance(net, SceneNet))
    card = _card(net, ck, task, model_name, labels, options, meta, source, onnx_path, worst, timing)
    write_json(card_path, card)
    return ExportedModel(onnx_path, card_path, card)


def _card(
    net: VadNet | SceneNet,
    ck: Mapping[str, Any],
    task: str,
    name: str,
    labels: list[str],
    options: dict[str, Any] | None,
    meta: dict[str, str],
    source: Path,
    onnx_path: Path,
    worst: float,
    timing: dict[str, float],
) -> dict[str, Any]:
    c = net.config
    card: dict[str, Any] = {
        "name": name,
        "file": onnx_path.name,
        "task": task,
        "version": meta["gabortag.version"],
        "sample_rate": c.sample_rate,
        **timing,
        "labels": labels,
        "parameters": sum(p.numel() for p in net.parameters()),
        "first_layer": c.first_layer,
        "gabor_parameters": 4 * c.n_kernels if c.first_layer == "gabor" else 0,
        "architecture": c.to_dict(),
    }
    if task == "birdcalls":
        card["frequency_range_hz"] = [c.f_min, c.f_max]
    card["postprocess"] = options
    if options is None:
        card["postprocess_note"] = (
            "the checkpoint carries no tuned decision options: the runtime uses the generic "
            "defaults; the release scripts tune them"
        )
    card["metrics"] = None
    card["metrics_note"] = (
        "export measures nothing; evaluate with `gabortag eval` on held-out recordings "
        "(the release scripts measure and tune)"
    )
    training = {k: ck[k] for k in ("step", "epoch") if k in ck}
    for key in ("validation_files", "test_files"):
        if key in ck:
            training[key] = list(ck[key])
    if "train_files" in ck:
        training["train_files"] = len(ck["train_files"])
    card["source_checkpoint"] = {
        "path": str(source),
        "sha256": sha256_of(source),
        **training,
    }
    card |= release_facts(onnx_path, worst)
    card["export"] = {"by": "gabortag export", **card["export"]}
    return card
