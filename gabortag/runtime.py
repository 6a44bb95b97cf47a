"""onnxruntime sessions: lazy import, explicit threads and providers, a clear error for CUDA."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DeviceError, ModelError

if TYPE_CHECKING:
    import onnxruntime


class Device(StrEnum):
    """Where a model runs (inference: onnxruntime's providers; training: torch's device)."""

    CPU = "cpu"
    CUDA = "cuda"
    AUTO = "auto"  # CUDA when it is available, else the CPU


#: The names of :class:`Device`, in the order they are listed.
DEVICES = tuple(d.value for d in Device)


def check_device(device: str | Device) -> Device:
    """``device`` as a :class:`Device`.

    Raises:
        ValueError: not one of :data:`DEVICES`; the message lists them.
    """
    try:
        return Device(device)
    except ValueError:
        raise ValueError(f"unknown device {device!r}; choose cpu, cuda or auto") from None


#: The command that leaves exactly one onnxruntime, the CUDA one, in place.
GPU_SWAP = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"

#: The pip distributions that install the ``onnxruntime`` package (into the same folder).
RUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu")


def installed_runtimes() -> list[str]:
    """Which of :data:`RUNTIME_DISTRIBUTIONS` pip has installed for this Python (both is a
    broken mix: each overwrites the other's files)."""
    from importlib import metadata

    found = []
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def _mixed() -> bool:
    return len(installed_runtimes()) > 1


def _mix_message() -> str:
    return (
        "onnxruntime and onnxruntime-gpu are both installed; they share one folder, so each "
        f"has overwritten the other's files. Keep exactly one: `{GPU_SWAP}` for CUDA "
        "(or `pip install onnxruntime` after the uninstall for the CPU only)"
    )


def _ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as err:
        if _mixed():
            raise ModelError(f"onnxruntime is not importable: {_mix_message()}") from err
        raise ModelError(  # pragma: no cover - a broken install
            "onnxruntime is not importable: reinstall it with `pip install onnxruntime` "
            f"(or `onnxruntime-gpu` for CUDA: `{GPU_SWAP}`); the import said: {err}"
        ) from err
    if not hasattr(ort, "InferenceSession"):
        raise ModelError(
            "onnxruntime is broken, probably by installing onnxruntime and onnxruntime-gpu "
            f"together (they share one folder): `{GPU_SWAP}` for CUDA, or "
            "`pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime`"
        )
    return ort


def providers_for(device: str) -> list[str]:
    """Execution providers for ``device`` (cpu, cuda or auto), checked against this install.

    Raises:
        ValueError: an unknown device.
        ModelError: ``cuda`` without a CUDA provider; the message says how to get one.
    """
    device = check_device(device).value
    available = _ort().get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return ["CPUExecutionProvider"]
    if _mixed():
        raise DeviceError(
            "device",
            "{device} cuda was asked for but onnxruntime has no CUDA provider here "
            f"(available: {', '.join(available)}): {_mix_message()}; or use {{device}} cpu",
        )
    raise DeviceError(
        "device",
        "{device} cuda was asked for but onnxruntime has no CUDA provider here "
        f"(available: {', '.join(available)}); install onnxruntime-gpu in place of "
        f"onnxruntime: `{GPU_SWAP}` (see the README), or use {{device}} cpu",
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
        raise DeviceError(
            "device",
            "the CUDA provider is installed but could not start (driver or CUDA libraries "
            "missing?); use {device} cpu",
        )
    return session
