"""onnxruntime sessions: lazy import, explicit threads and providers, a clear error for CUDA."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelError

if TYPE_CHECKING:
    import onnxruntime

DEVICES = ("cpu", "cuda", "auto")


def _ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - a broken install
        raise ModelError(
            "onnxruntime is not importable: reinstall it with `pip install onnxruntime` "
            f"(or `onnxruntime-gpu` for CUDA); the import said: {err}"
        ) from err
    if not hasattr(ort, "InferenceSession"):
        raise ModelError(
            "onnxruntime is broken, probably by installing onnxruntime and onnxruntime-gpu "
            "together (they share one folder): `pip uninstall -y onnxruntime onnxruntime-gpu` "
            "then install exactly one of them"
        )
    return ort


def providers_for(device: str) -> list[str]:
    """Execution providers for ``device`` (cpu, cuda or auto), checked against this install."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    available = _ort().get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return ["CPUExecutionProvider"]
    raise ModelError(
        "device 'cuda' was asked for but onnxruntime has no CUDA provider here "
        f"(available: {', '.join(available)}); install onnxruntime-gpu in place of "
        "onnxruntime (see the README), or use --device cpu"
    )


def create_session(
    path: Path, device: str = "cpu", threads: int | None = None
) -> onnxruntime.InferenceSession:
    """An inference session with ``threads`` intra-op threads (``None``: onnxruntime's default)."""
    ort = _ort()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    providers = providers_for(device)
    try:
        session = ort.InferenceSession(str(path), opts, providers=providers)
    except Exception as err:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{path}: onnxruntime could not load the model: {err}") from err
    if device == "cuda" and "CUDAExecutionProvider" not in session.get_providers():
        raise ModelError(
            "CUDA provider is installed but could not start (driver or CUDA libraries "
            "missing?); use --device cpu"
        )
    return session
