"""Running a frame-scoring ONNX model over audio of any length, in chunks, exactly.

The exported graphs are *valid* convolutions along time (see ``gabortag.training.nets.framenet``):
output frame ``j`` is a function of padded samples ``[j·hop, j·hop + receptive_field)``, where
the padded signal is ``left_pad`` zeros, the audio, then zeros. :class:`FrameScorer` feeds the
network overlapping windows of that padded signal, so scores of a stream cut into blocks of any
size equal scores of the whole file, and memory depends on the chunk size, not the file length.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .models import ModelSpec, resolve
from .runtime import create_session

DEFAULT_CHUNK_SECONDS = 30.0


@dataclass(frozen=True)
class ModelInfo:
    """Facts read from a model's ONNX metadata."""

    name: str
    task: str
    version: str
    sample_rate: int
    hop: int
    receptive_field: int
    left_pad: int
    labels: tuple[str, ...]
    postprocess: dict[str, Any]
    metadata: dict[str, str]


def _info(name: str, meta: dict[str, str], path: Path) -> ModelInfo:
    try:
        return ModelInfo(
            name=meta.get("gabortag.name", name),
            task=meta["gabortag.task"],
            version=meta.get("gabortag.version", "0"),
            sample_rate=int(meta["gabortag.sample_rate"]),
            hop=int(meta["gabortag.hop"]),
            receptive_field=int(meta["gabortag.receptive_field"]),
            left_pad=int(meta["gabortag.left_pad"]),
            labels=tuple(json.loads(meta.get("gabortag.labels", "[]"))),
            postprocess=json.loads(meta.get("gabortag.postprocess", "{}")),
            metadata=dict(meta),
        )
    except (KeyError, ValueError) as err:
        raise ModelError(
            f"{path} is not a gabortag model: its ONNX metadata lacks or garbles {err}; "
            "export it with `gabortag.training.export`"
        ) from err


class Model:
    """A loaded frame-scoring model (one onnxruntime session).

    Attributes:
        info: metadata (task, sample rate, hop, labels, ...).
        spec: where the file is and its card.
        providers: onnxruntime execution providers actually in use.
    """

    def __init__(self, spec: ModelSpec, device: str = "cpu", threads: int | None = None) -> None:
        self.spec = spec
        self.session = create_session(spec.path, device=device, threads=threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.info = _info(spec.name, meta, spec.path)
        self.providers: tuple[str, ...] = tuple(self.session.get_providers())
        self._input = self.session.get_inputs()[0].name

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def provider(self) -> str:
        """The execution provider that runs the network (the session's first, e.g.
        ``"CUDAExecutionProvider"``; onnxruntime puts nodes it cannot run there on the CPU)."""
        return self.providers[0] if self.providers else ""

    @property
    def sample_rate(self) -> int:
        """Rate in Hz that :meth:`score` expects."""
        return self.info.sample_rate

    @property
    def hop_seconds(self) -> float:
        """Seconds between output frames; frame ``j`` covers ``[j·hop, (j+1)·hop)``."""
        return self.info.hop / self.info.sample_rate

    @property
    def card(self) -> dict[str, Any]:
        return self.spec.card

    def run(self, padded: np.ndarray) -> np.ndarray:
        """Raw network call: padded waveform ``(B, N)`` float32 → scores ``(B, frames)``, or
        ``(B, frames, n_classes)`` for class models."""
        out = self.session.run(None, {self._input: np.ascontiguousarray(padded, np.float32)})
        return np.asarray(out[0])

    def score(self, wav: np.ndarray, chunk_seconds: float = DEFAULT_CHUNK_SECONDS) -> np.ndarray:
        """Frame scores ``(ceil(N / hop),)`` (or ``(ceil(N / hop), n_classes)``) of a mono float32
        waveform at :attr:`sample_rate`."""
        parts = list(self.score_stream([wav], chunk_seconds))
        return np.concatenate(parts) if parts else np.zeros((0, *self.frame_shape), np.float32)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame's scores: ``()`` for one output, ``(n_classes,)`` for several."""
        return () if len(self.info.labels) <= 1 else (len(self.info.labels),)

    def score_stream(
        self, blocks: Iterable[np.ndarray], chunk_seconds: float = DEFAULT_CHUNK_SECONDS
    ) -> Iterator[np.ndarray]:
        """Scores of a waveform given as consecutive blocks (any sizes); yields score arrays.

        The concatenation of what is yielded equals :meth:`score` of the concatenated blocks.
        """
        return FrameScorer(self, chunk_seconds).feed_all(blocks)


class FrameScorer:
    """Streaming scorer that keeps only one chunk plus the receptive field in memory."""

    def __init__(self, model: Model, chunk_seconds: float = DEFAULT_CHUNK_SECONDS) -> None:
        info = model.info
        self.model = model
        self.hop = info.hop
        self.field = info.receptive_field
        self.chunk = max(1, int(chunk_seconds * info.sample_rate) // info.hop)
        self.buffer = np.zeros(info.left_pad, np.float32)
        self.n_samples = 0
        self.n_done = 0

    def _window(self, n_out: int) -> int:
        return (n_out - 1) * self.hop + self.field

    def _emit(self, n_out: int) -> np.ndarray:
        need = self._window(n_out)
        if len(self.buffer) < need:
            self.buffer = np.concatenate(
                [self.buffer, np.zeros(need - len(self.buffer), np.float32)]
            )
        scores = self.model.run(self.buffer[None, :need])[0][:n_out]
        self.buffer = self.buffer[n_out * self.hop :]
        self.n_done += n_out
        out: np.ndarray = scores.astype(np.float32)
        return out

    def feed(self, block: np.ndarray) -> Iterator[np.ndarray]:
        """Add samples; yields every full chunk of scores that became computable."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        self.n_samples += len(block)
        self.buffer = np.concatenate([self.buffer, block])
        while len(self.buffer) >= self._window(self.chunk):
            yield self._emit(self.chunk)

    def finish(self) -> Iterator[np.ndarray]:
        """Scores of the remaining frames (zero padding after the end of the audio)."""
        total = -(-self.n_samples // self.hop)
        while self.n_done < total:
            yield self._emit(min(self.chunk, total - self.n_done))

    def feed_all(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            yield from self.feed(block)
        yield from self.finish()


@lru_cache(maxsize=8)
def _cached(name_or_path: str, device: str, threads: int | None) -> Model:
    return Model(resolve(name_or_path), device=device, threads=threads)


def load_model(
    name_or_path: str | Path = "vad", device: str = "cpu", threads: int | None = None
) -> Model:
    """A bundled model by name (``gabortag models`` lists them) or an ``.onnx`` path.

    Loaded models are cached per (model, device, threads). ``threads=None`` lets onnxruntime
    choose; benchmarks pass 1.
    """
    return _cached(str(name_or_path), device, threads)


def as_model(model: Model | str | Path, device: str = "cpu", threads: int | None = None) -> Model:
    """``model`` itself when it is loaded, else :func:`load_model` of the name or path."""
    return model if isinstance(model, Model) else load_model(model, device=device, threads=threads)


def check_task(model: Model, task: str) -> Model:
    """``model`` itself if it was made for ``task`` (its ``gabortag.task``), else ``ModelError``."""
    if model.info.task != task:
        raise ModelError(f"model {model.name!r} is a {model.info.task!r} model, not a {task} model")
    return model
