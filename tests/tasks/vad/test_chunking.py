"""Chunked / streamed scoring with the bundled model equals one pass over the padded file."""

from __future__ import annotations

import numpy as np
import pytest

from gabortag.inference import FrameScorer, Model, load_model
from gabortag.io.audio import load_audio

from _paths import DATA  # isort: skip


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model("vad", threads=1)


@pytest.fixture(scope="module")
def wav() -> np.ndarray:
    audio, _ = load_audio(DATA / "speech_noise.flac", 16000)
    return audio


def one_pass(model: Model, wav: np.ndarray) -> np.ndarray:
    """Independent of FrameScorer: pad as documented and call the network once."""
    info = model.info
    n_out = -(-len(wav) // info.hop)
    padded = np.zeros(info.receptive_field + (n_out - 1) * info.hop, np.float32)
    padded[info.left_pad : info.left_pad + len(wav)] = wav
    return model.run(padded[None])[0]


def random_blocks(
    wav: np.ndarray, rng: np.random.Generator, chunk_samples: int
) -> list[np.ndarray]:
    """Cut ``wav`` into blocks: runs of 1-sample blocks, empty blocks, odd sizes, and blocks
    larger than a chunk."""
    sizes = [1, 1, 1, 0, 319, 320, 321, 2 * chunk_samples + 37, 1, 0, 7]
    blocks, pos = [], 0
    while pos < len(wav):
        if sizes:
            size = sizes.pop(0)
        else:
            size = int(
                rng.choice([1, int(rng.integers(2, 5000)), int(rng.integers(1, 3 * chunk_samples))])
            )
        blocks.append(wav[pos : pos + size])
        pos += size
    return blocks


def test_score_equals_single_network_call(model: Model, wav: np.ndarray) -> None:
    got = model.score(wav)
    assert got.dtype == np.float32
    assert got.shape == (-(-len(wav) // model.info.hop),)
    np.testing.assert_allclose(got, one_pass(model, wav), atol=1e-5)
    assert np.all((got >= 0) & (got <= 1))


@pytest.mark.parametrize("chunk_seconds", [0.5, 1.3, 30.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_stream_of_random_blocks_equals_whole(
    model: Model, wav: np.ndarray, chunk_seconds: float, seed: int
) -> None:
    whole = model.score(wav)
    rng = np.random.default_rng(seed)
    blocks = random_blocks(wav, rng, int(chunk_seconds * 16000))
    assert sum(len(b) for b in blocks) == len(wav)
    parts = list(model.score_stream(iter(blocks), chunk_seconds=chunk_seconds))
    assert all(p.dtype == np.float32 for p in parts)
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() < 1e-5
    # and score() with the same chunk size
    assert np.abs(model.score(wav, chunk_seconds=chunk_seconds) - whole).max() < 1e-5


def test_stream_yields_as_soon_as_possible(model: Model, wav: np.ndarray) -> None:
    """A chunk of scores is yielded once its samples are in, before the stream ends."""
    scorer = FrameScorer(model, chunk_seconds=0.5)
    hop, chunk = model.info.hop, scorer.chunk
    assert chunk == 25
    got = list(scorer.feed(wav[: 3 * 16000]))
    assert len(got) >= 1 and all(len(g) == chunk for g in got)
    assert len(scorer.buffer) < scorer._window(chunk)  # memory bounded by one window
    rest = list(scorer.feed(wav[3 * 16000 :])) + list(scorer.finish())
    total = np.concatenate(got + rest)
    assert len(total) == -(-len(wav) // hop)
    np.testing.assert_allclose(total, model.score(wav), atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 319, 320, 321, 641, 12345])
@pytest.mark.parametrize("chunk_seconds", [0.5, 30.0])
def test_length_is_ceil_n_over_hop(model: Model, n: int, chunk_seconds: float) -> None:
    rng = np.random.default_rng(n)
    x = (0.1 * rng.standard_normal(n)).astype(np.float32)
    got = model.score(x, chunk_seconds=chunk_seconds)
    assert isinstance(got, np.ndarray)
    assert got.shape == (-(-n // model.info.hop),)
    if n == 0:
        assert got.size == 0
    else:
        np.testing.assert_allclose(got, one_pass(model, x), atol=1e-5)
        streamed = np.concatenate(
            [np.zeros(0, np.float32), *model.score_stream([x[:1], x[1:]], chunk_seconds)]
        )
        np.testing.assert_allclose(streamed, got, atol=1e-5)


def test_empty_stream(model: Model) -> None:
    assert list(model.score_stream([])) == []
    assert list(model.score_stream([np.zeros(0, np.float32)] * 3)) == []
