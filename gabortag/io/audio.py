"""The one audio entry point: any file soundfile reads in, float32 mono at the model's rate out.

Contract
--------
* Input: a path (``str``, ``os.PathLike`` or ``bytes``) to any file libsndfile reads (WAV, FLAC,
  OGG/Vorbis/Opus, MP3, AIFF, CAF, W64, RF64, ...) or an evTAF ``.cbin`` recording (its rate
  from the ``.rec`` file beside it, channel 0 only: :mod:`gabortag.io.evtaf`), any sample rate in
  ``[MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]`` Hz, any channel count and sample format; ``"-"`` for
  standard input; or (``load_audio`` only) an in-memory NumPy array.
* Output: 1-D ``float32`` mono samples at the requested rate, nominally in ``[-1, 1]``. Channels
  are downmixed by their mean; the rate is converted with soxr (``RESAMPLE_QUALITY``), streamed
  block by block so memory stays flat whatever the file's length, and the concatenation of the
  blocks equals resampling the whole file at once.
* Failure: every problem with the input (missing, a folder, unreadable, not audio, empty,
  truncated, NaN/Inf samples, unsupported rate) raises :class:`~gabortag.errors.AudioError`, whose
  ``str`` is one line ``"<path>: <reason>"``. Misuse of the API (a bad ``target_sr``, an array
  without ``sample_rate``) raises ``ValueError`` (``TypeError`` for a wrong type).

soundfile and soxr are imported lazily, so importing this module costs only NumPy.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from gabortag.errors import AudioError, AudioWarning
from gabortag.io.evtaf import CBIN_CHANNEL, cbin_layout, is_cbin
from gabortag.io.stderr import captured_stderr

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Lowest sample rate accepted, in Hz. Below this a file is almost surely mislabelled (no speech
#: model can use 500 Hz audio), and soxr's filters get degenerate.
MIN_SAMPLE_RATE = 1000

#: Highest sample rate accepted, in Hz: the highest rate of professional audio interfaces.
#: Anything above it is treated as a corrupt header.
MAX_SAMPLE_RATE = 768_000

#: Default length of the blocks read from disk, in seconds of *input* audio, at most: a block
#: also holds at most :data:`BLOCK_BYTES` of decoded samples (see :func:`block_frames`).
DEFAULT_BLOCK_SECONDS = 30.0

#: Most bytes of decoded float32 samples (frames × channels × 4) in one block read from disk,
#: so that memory stays flat whatever the channel count: 4 MiB is 30 s of 16 kHz mono or
#: 1,024 frames of 1,024 channels.
BLOCK_BYTES = 4 * 2**20

#: soxr quality preset used for every rate conversion ("HQ": 20-bit precision, ~95 % passband).
RESAMPLE_QUALITY = "HQ"

#: The source argument meaning "read standard input".
STDIN = "-"

#: How standard input is named in :class:`AudioInfo` and in error messages.
STDIN_NAME = "<stdin>"

#: How an in-memory array is named in :class:`AudioInfo` and in error messages.
ARRAY_NAME = "<array>"

#: libsndfile formats whose decoder prints on standard error (libmpg123): their reads are
#: captured (:mod:`gabortag.io.stderr`), as every file's opening is.
_PRINTING_FORMATS = frozenset({"MP3", "MPEG"})

# Bytes of inputs that can be read only once (standard input, pipes such as ``<(cat a.wav)``),
# keyed by their source string, so that ``probe`` followed by ``open_stream`` reads them once.
_ONCE_ONLY_CACHE: dict[str, bytes] = {}


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding the samples.

    ``path`` is the source as given (``"<stdin>"`` for standard input, ``"<array>"`` for an
    array); ``sample_rate`` in Hz; ``frames`` is the number of samples per channel;
    ``duration`` is ``frames / sample_rate`` in seconds, at the file's own rate.
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    duration: float


def probe(source: str | os.PathLike[str] | bytes) -> AudioInfo:
    """Read the header of ``source`` (a path, or ``"-"`` for stdin) without decoding samples.

    Raises ``AudioError`` when the input is missing, unreadable, not audio, has no samples or an
    unsupported sample rate. Standard input is read into memory once and cached, so a later
    :func:`open_stream` or :func:`load_audio` of ``"-"`` sees the same bytes.
    """
    handle = _open(source)
    handle.close()
    return handle.info


def open_stream(
    source: str | os.PathLike[str] | bytes,
    target_sr: int,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
) -> tuple[AudioInfo, Iterator[NDArray[np.float32]]]:
    """Open ``source`` and stream it as float32 mono blocks at ``target_sr`` Hz.

    Returns the header info (at the file's own rate) and an iterator of 1-D ``float32`` arrays.
    Each block comes from about ``block_seconds`` of input, so memory stays flat for any length;
    blocks may differ in length (the resampler's delay), and none is empty. Their concatenation
    equals resampling the whole file at once. Opening errors are raised here; decoding errors
    (truncated or corrupt data, NaN/Inf samples) are raised as ``AudioError`` by the iterator.
    The file is closed when the iterator is exhausted, closed or garbage-collected.
    """
    _check_target_sr(target_sr)
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds!r}")
    handle = _open(source)
    frames = block_frames(handle.info.sample_rate, handle.info.channels, block_seconds)
    blocks = _mono_at_rate(
        _FileBlocks(handle, frames), handle.info.path, handle.info.sample_rate, target_sr
    )
    return handle.info, blocks


def block_frames(
    sample_rate: int, channels: int, block_seconds: float = DEFAULT_BLOCK_SECONDS
) -> int:
    """Frames per block read from a file of ``channels`` channels at ``sample_rate`` Hz: about
    ``block_seconds`` of audio, but never more than :data:`BLOCK_BYTES` of float32 samples
    (``frames × channels × 4``), and at least one frame. Each block is downmixed as it is read,
    so a file of 1,024 channels needs no more memory than a mono one."""
    by_time = max(1, round(block_seconds * sample_rate))
    by_bytes = max(1, BLOCK_BYTES // (max(1, channels) * np.dtype(np.float32).itemsize))
    return min(by_time, by_bytes)


@dataclass(frozen=True)
class Input:
    """An opened task input: its facts, its blocks at the target rate, how to name it, and
    the whole waveform when it was given as an array (``None`` for files, which stream)."""

    info: AudioInfo
    blocks: Iterable[NDArray[np.float32]]
    name: str
    array: NDArray[np.float32] | None


def open_input(
    source: str | os.PathLike[str] | bytes | NDArray[Any],
    target_sr: int,
    sample_rate: int | None = None,
) -> Input:
    """A file, ``"-"`` or an array (with its ``sample_rate``) as mono float32 at ``target_sr``.

    Raises:
        ValueError: ``sample_rate`` given for a file, or missing for an array.
        AudioError: the input cannot be read.
    """
    if isinstance(source, np.ndarray):
        wav, info = load_audio(source, target_sr, sample_rate=sample_rate)
        return Input(info, [wav], ARRAY_NAME, wav)
    if sample_rate is not None:
        raise ValueError("sample_rate is only for arrays; a file's rate is read from its header")
    info, blocks = open_stream(source, target_sr)
    return Input(info, blocks, os.fsdecode(source), None)


def load_audio(
    source: str | os.PathLike[str] | bytes | NDArray[Any],
    target_sr: int,
    sample_rate: int | None = None,
) -> tuple[NDArray[np.float32], AudioInfo]:
    """Load a whole input as 1-D float32 mono at ``target_sr`` Hz.

    ``source`` is a path, ``"-"`` for stdin, or an array: 1-D mono or 2-D ``(samples, channels)``,
    float (taken as is) or signed integer (scaled by ``2**(bits - 1)``), at ``sample_rate`` Hz,
    which is then required. Returns ``(samples, info)``; ``info`` describes the input at its own
    rate, with ``frames`` and ``duration`` counting the samples actually decoded (an MP3 header
    can promise more than a truncated file holds). A 1-sample input is fine and gives a tiny
    (possibly empty, once resampled) array. Raises ``AudioError`` for bad inputs.
    """
    _check_target_sr(target_sr)
    tally = _Tally()
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ValueError(
                "load_audio() got an array but no sample_rate; pass sample_rate=<Hz of the array>"
            )
        frames_2d = _array_as_frames(source)
        _check_rate(ARRAY_NAME, sample_rate)
        info = AudioInfo(
            path=ARRAY_NAME,
            sample_rate=int(sample_rate),
            channels=frames_2d.shape[1],
            frames=frames_2d.shape[0],
            duration=frames_2d.shape[0] / sample_rate,
        )
        blocks = _mono_at_rate(iter([frames_2d]), ARRAY_NAME, int(sample_rate), target_sr, tally)
    else:
        if sample_rate is not None:
            raise ValueError("sample_rate is only for arrays; a file's rate comes from its header")
        handle = _open(source)
        info = handle.info
        frames = block_frames(info.sample_rate, info.channels)
        blocks = _mono_at_rate(
            _FileBlocks(handle, frames), info.path, info.sample_rate, target_sr, tally
        )
    parts = list(blocks)
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    if tally.frames != info.frames:
        info = replace(info, frames=tally.frames, duration=tally.frames / info.sample_rate)
    return audio, info


# --------------------------------------------------------------------------- internals


class _Tally:
    """Counts the input frames a stream has decoded."""

    def __init__(self) -> None:
        self.frames = 0


class _Handle:
    """An open soundfile plus the Python file object under it, and what its decoder printed
    on standard error (``notes``; see :mod:`gabortag.io.stderr`)."""

    def __init__(
        self,
        info: AudioInfo,
        sound: Any,
        raw: IO[bytes],
        notes: list[str] | None = None,
        channel: int | None = None,
    ) -> None:
        self.info = info
        self.sound = sound
        self.raw = raw
        self.channel = channel  # the one channel read (evTAF .cbin), or None: all, downmixed
        self.notes: list[str] = [] if notes is None else notes
        # libmpg123 is the one decoder known to print: only its reads are captured
        self.captures = str(getattr(sound, "format", "")).upper() in _PRINTING_FORMATS
        self._warned = False
        self.warn()

    def read(self, frames: int) -> NDArray[np.float32]:
        """The next ``frames`` frames as ``(frames, channels)`` float32 (fewer at the end;
        ``(frames, 1)`` when one ``channel`` is read)."""
        if not self.captures:
            block: NDArray[np.float32] = self.sound.read(frames, dtype="float32", always_2d=True)
        else:
            with captured_stderr(self.notes):
                block = self.sound.read(frames, dtype="float32", always_2d=True)
            self.warn()
        if self.channel is not None:
            block = np.ascontiguousarray(block[:, self.channel : self.channel + 1])
        return block

    def warn(self) -> None:
        """Turn the decoder's first message into this file's one :class:`AudioWarning`."""
        if self.notes and not self._warned:
            self._warned = True
            first = self.notes[0]
            for prefix in ("Warning:", "Note:"):
                first = first.removeprefix(prefix).strip()
            warnings.warn(AudioWarning(self.info.path, f"libmpg123: {first}"), stacklevel=1)

    def close(self) -> None:
        try:
            self.sound.close()
        finally:
            self.raw.close()


class _FileBlocks:
    """Iterator of ``(frames, channels)`` float32 blocks read from an open file.

    Closes the file when exhausted, on a decoding error, or when garbage-collected unread.
    """

    def __init__(self, handle: _Handle, block_frames: int) -> None:
        self._handle: _Handle | None = handle
        self._block_frames = block_frames
        self._offset = 0

    def __iter__(self) -> _FileBlocks:
        return self

    def __next__(self) -> NDArray[np.float32]:
        handle = self._handle
        if handle is None:
            raise StopIteration
        import soundfile as sf

        try:
            block = handle.read(self._block_frames)
        except (sf.SoundFileError, RuntimeError, OSError) as err:
            try:  # libsndfile's position after the failed read, when it knows it
                position = max(self._offset, int(handle.sound.tell()))
            except Exception:
                position = self._offset
            self.close()
            seconds = position / handle.info.sample_rate
            raise AudioError(
                handle.info.path,
                f"could not decode past t={seconds:.2f} s, the file looks truncated or corrupt "
                f"({_short_message(err)})",
            ) from None
        if block.shape[0] == 0:
            self.close()
            raise StopIteration
        self._offset += block.shape[0]
        return block

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()

    def __del__(self) -> None:
        self.close()


def _mono_at_rate(
    blocks: Iterator[NDArray[Any]],
    path: str,
    in_sr: int,
    target_sr: int,
    tally: _Tally | None = None,
) -> Iterator[NDArray[np.float32]]:
    """Downmix ``(frames, channels)`` blocks at ``in_sr`` to mono, check them, resample.

    Raises ``AudioError`` on the first non-finite sample (with its time in seconds) and when the
    input holds no samples at all. Yields non-empty 1-D float32 arrays at ``target_sr``.
    """
    resampler = None
    if in_sr != target_sr:
        import soxr

        resampler = soxr.ResampleStream(
            in_sr, target_sr, 1, dtype="float32", quality=RESAMPLE_QUALITY
        )
    offset = 0
    try:
        for block in blocks:
            finite = np.isfinite(block)
            if not finite.all():
                first = int(np.argmin(finite.all(axis=1)))
                seconds = (offset + first) / in_sr
                raise AudioError(
                    path, f"contains non-finite samples (NaN or Inf) at t={seconds:.2f} s"
                )
            offset += block.shape[0]
            if tally is not None:
                tally.frames = offset
            if block.shape[1] == 1:
                mono = np.ascontiguousarray(block[:, 0], dtype=np.float32)
            else:
                mono = block.mean(axis=1, dtype=np.float32)
            out = mono if resampler is None else resampler.resample_chunk(mono, last=False)
            if out.size:
                yield out
        if offset == 0:
            raise AudioError(path, "contains no audio samples")
        if resampler is not None:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield tail
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def _check_target_sr(target_sr: int) -> None:
    if isinstance(target_sr, bool) or not isinstance(target_sr, (int, np.integer)):
        raise TypeError(f"target_sr must be an integer number of Hz, got {target_sr!r}")
    if not MIN_SAMPLE_RATE <= target_sr <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"target_sr={target_sr} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
        )


def _check_rate(path: str, sample_rate: float) -> None:
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            path,
            f"sample rate {sample_rate:g} Hz is outside the supported range "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz (corrupt header?)",
        )


def _array_as_frames(array: NDArray[Any]) -> NDArray[np.float32]:
    """An in-memory array as ``(frames, channels)`` float32; ``ValueError`` if it cannot be."""
    if array.ndim == 1:
        array = array[:, np.newaxis]
    elif array.ndim != 2:
        raise ValueError(
            f"audio array must be 1-D (samples,) or 2-D (samples, channels), got shape "
            f"{array.shape}"
        )
    elif array.shape[1] > 64 and array.shape[0] <= 64:
        raise ValueError(
            f"audio array of shape {array.shape} looks like (channels, samples); "
            "pass (samples, channels), e.g. array.T"
        )
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float32)
    if np.issubdtype(array.dtype, np.signedinteger):
        scale = float(2 ** (8 * array.dtype.itemsize - 1))
        return (array / scale).astype(np.float32)
    raise ValueError(f"audio array must hold floats or signed integers, got dtype {array.dtype}")


def _short_message(err: BaseException) -> str:
    """libsndfile's own short message (``"Format not recognised"``), without the file name."""
    text = getattr(err, "error_string", None)
    if not isinstance(text, str) or not text.strip():
        text = str(err) or type(err).__name__
    text = text.strip().rstrip(".")
    return text.removeprefix("Error : ").strip()


def _os_reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, IsADirectoryError):
        return "is a directory, not an audio file"
    if isinstance(err, (FileNotFoundError, NotADirectoryError)):
        return "does not exist"
    return (err.strerror or type(err).__name__).lower()


def forget(source: str | os.PathLike[str] | bytes) -> None:
    """Drop the bytes kept for an input that can be read only once (stdin, a pipe).

    The task functions call it when they are done with ``source``, so a long-lived process
    keeps no old input in memory and a reused pipe path is read afresh.
    """
    key = STDIN if source == STDIN else os.fsdecode(source)
    _ONCE_ONLY_CACHE.pop(key, None)


def _read_once_only(key: str, name: str, read: Any) -> bytes:
    """Bytes of an input that can be read only once, from the cache or by calling ``read()``."""
    cached = _ONCE_ONLY_CACHE.get(key)
    if cached is None:
        try:
            cached = bytes(read())
        except OSError as err:
            raise AudioError(name, f"could not read: {_os_reason(err)}") from None
        _ONCE_ONLY_CACHE[key] = cached
    return cached


def _read_stdin() -> bytes:
    stdin = sys.stdin
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:
        raise AudioError(STDIN_NAME, "no standard input to read from")
    if STDIN not in _ONCE_ONLY_CACHE:
        isatty = getattr(stdin, "isatty", None)
        if callable(isatty) and isatty():
            raise AudioError(
                STDIN_NAME, "standard input is a terminal; pipe audio in, e.g. `... - < a.wav`"
            )
    return _read_once_only(STDIN, STDIN_NAME, buffer.read)


def _open_path(path: str) -> IO[bytes]:
    """Open a file for reading, turning every OS problem into an ``AudioError``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            raise AudioError(
                path, f"broken symlink (its target {target!r} does not exist)"
            ) from None
        raise AudioError(path, "does not exist") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise AudioError(path, "symlink loop (too many levels of symbolic links)") from None
        raise AudioError(path, _os_reason(err)) from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(path, "is a directory, not an audio file")
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        raw = open(path, "rb")  # closed by _Handle.close
    except OSError as err:
        raise AudioError(path, _os_reason(err)) from None
    if stat.S_ISREG(st.st_mode):
        return raw
    # A pipe or device (e.g. ``<(cat a.wav)``): libsndfile needs to seek, so read it into memory.
    with raw:
        data = _read_once_only(path, path, raw.read)
    if not data:
        raise AudioError(path, "empty input (0 bytes)")
    return io.BytesIO(data)


def _open(source: str | os.PathLike[str] | bytes) -> _Handle:
    """Open ``source`` with soundfile and read its header; ``AudioError`` on any problem."""
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    elif isinstance(source, os.PathLike):
        source = os.fspath(source)
        if isinstance(source, bytes):
            source = os.fsdecode(source)
    if not isinstance(source, str):
        raise TypeError(f"audio source must be a path or '-', got {type(source).__name__}")
    if source == STDIN:
        name = STDIN_NAME
        data = _read_stdin()
        if not data:
            raise AudioError(name, "empty input (0 bytes on standard input)")
        raw: IO[bytes] = io.BytesIO(data)
    else:
        name = source
        raw = _open_path(source)

    import soundfile as sf

    layout: dict[str, Any] = {}
    channel: int | None = None
    if source != STDIN and is_cbin(source):  # headerless: the layout comes from its .rec
        try:
            layout = cbin_layout(source).soundfile_args()
        except AudioError:
            raw.close()
            raise
        channel = CBIN_CHANNEL
    notes: list[str] = []
    try:
        with captured_stderr(notes):
            sound = sf.SoundFile(raw, **layout)
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raw.close()
        raise AudioError(name, f"not a readable audio file ({_short_message(err)})") from None
    handle = _Handle(
        AudioInfo(
            path=name,
            sample_rate=int(sound.samplerate),
            channels=int(sound.channels),
            frames=int(sound.frames),
            duration=int(sound.frames) / sound.samplerate if sound.samplerate > 0 else 0.0,
        ),
        sound,
        raw,
        notes,
        channel,
    )
    try:
        _check_rate(name, handle.info.sample_rate)
        if handle.info.frames <= 0:
            raise AudioError(name, "contains no audio samples")
    except AudioError:
        handle.close()
        raise
    return handle
