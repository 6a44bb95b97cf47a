"""ONNX export of the voice activity network: metadata, torch parity, failure, shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from _torch_helpers import randomise_parameters, speech_like, stationary_noise  # noqa: E402

from gabortag.inference import Model, load_model  # noqa: E402
from gabortag.io.audio import load_audio  # noqa: E402
from gabortag.models import METADATA_KEYS, manifest, models_dir, resolve  # noqa: E402
from gabortag.training.export import export_onnx, gabor_parameters, json_meta  # noqa: E402
from gabortag.training.nets.framenet import VadConfig, VadNet  # noqa: E402
from gabortag.training.recipes.train_vad import frame_probabilities  # noqa: E402

from _paths import DATA, REPO  # noqa: E402  # isort: skip

CHECKPOINT = REPO / "models" / "vad-gabor-16k.pt"


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def metadata_for(net: VadNet) -> dict[str, str]:
    return {
        "gabortag.task": "vad",
        "gabortag.name": "vad-test",
        "gabortag.version": "0",
        "gabortag.sample_rate": str(net.config.sample_rate),
        "gabortag.hop": str(net.hop),
        "gabortag.receptive_field": str(net.receptive_field),
        "gabortag.left_pad": str(net.left_pad),
        "gabortag.labels": json_meta(["speech"]),
        "gabortag.postprocess": json_meta({"onset": 0.5}),
        "gabortag.config": json_meta(net.config.to_dict()),
        "gabortag.gabor": json_meta(gabor_parameters(net.gabor)),
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[VadNet, Path, float]:
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the layers randomise_parameters leaves to torch's own init
    net = VadNet(VadConfig(), seed=7)
    gen = torch.Generator().manual_seed(0)
    randomise_parameters(net, gen)
    with torch.no_grad():  # realistic log-mel normalisation, not identity
        net.mel_mean.copy_(-6.0 + torch.randn(net.config.n_mels, 1, generator=gen))
        net.mel_std.copy_(2.0 + torch.rand(net.config.n_mels, 1, generator=gen))
    path = tmp_path_factory.mktemp("export") / "sub" / "vad-test.onnx"
    worst = export_onnx(net, path, metadata_for(net), net.receptive_field + 20 * net.hop)
    return net, path, worst


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"waveform": x.astype(np.float32)})[0])


def run_torch(net: VadNet, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(x.astype(np.float32)))).numpy()


def test_export_writes_file_and_metadata(exported: tuple[VadNet, Path, float]) -> None:
    net, path, worst = exported
    assert path.is_file()
    assert not path.with_suffix(".onnx.tmp").exists()
    assert 0.0 <= worst <= 1e-4
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert set(METADATA_KEYS) <= set(meta)
    assert meta == metadata_for(net)
    assert json.loads(meta["gabortag.gabor"])["sigma_t"] == pytest.approx(
        net.gabor.sigma_t.tolist(), abs=1e-6
    )
    assert [i.name for i in proto.graph.input] == ["waveform"]
    assert [o.name for o in proto.graph.output] == ["scores"]
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "samples"]
    # the runtime reads the same metadata
    info = Model(resolve(path), threads=1).info
    assert (info.task, info.hop, info.receptive_field, info.left_pad) == (
        "vad",
        net.hop,
        net.receptive_field,
        net.left_pad,
    )
    assert info.postprocess == {"onset": 0.5}


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("extra", [0, 1, 319, 3 * 320 + 17, 16001])
def test_onnx_equals_torch_random(
    exported: tuple[VadNet, Path, float], batch: int, extra: int
) -> None:
    net, path, _ = exported
    rng = np.random.default_rng(extra + batch)
    n = net.receptive_field + extra
    x = (rng.standard_normal((batch, n)) * rng.uniform(0.01, 0.5, (batch, 1))).astype(np.float32)
    ref, got = run_torch(net, x), run_onnx(path, x)
    assert got.shape == ref.shape == (batch, net.n_outputs(n))
    assert np.abs(ref - got).max() < 1e-4


@pytest.mark.parametrize("batch", [1, 2])
def test_onnx_equals_torch_speech_like(exported: tuple[VadNet, Path, float], batch: int) -> None:
    net, path, _ = exported
    rng = np.random.default_rng(batch)
    n = net.receptive_field + 3 * 16000 + 161  # odd length, ~4.5 s
    rows = []
    for b in range(batch):
        x = stationary_noise(n, rng, rms=0.01)
        speech = speech_like(2.0, rng)
        start = 8000 + 5000 * b
        x[start : start + len(speech)] += speech
        rows.append(x)
    x = np.stack(rows)
    ref, got = run_torch(net, x), run_onnx(path, x)
    assert got.shape == ref.shape == (batch, net.n_outputs(n))
    assert np.abs(ref - got).max() < 1e-4
    # the network is not trivially constant, or the comparison would prove little
    assert np.ptp(ref) > 1e-2


def test_runtime_scores_equal_torch_frame_probabilities(
    exported: tuple[VadNet, Path, float],
) -> None:
    """Model.score (ONNX, chunked, padded by the runtime) = torch on the same padding."""
    net, path, _ = exported
    model = Model(resolve(path), threads=1)
    rng = np.random.default_rng(3)
    wav = np.concatenate([stationary_noise(8000, rng, 0.02), speech_like(1.5, rng)])
    wav = np.concatenate([wav, stationary_noise(4321, rng, 0.02)])
    ref = frame_probabilities(net, wav)
    assert len(ref) == -(-len(wav) // net.hop)
    for chunk in (0.5, 30.0):
        got = model.score(wav, chunk_seconds=chunk)
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < 1e-4


def test_export_rejects_impossible_tolerance(tmp_path: Path) -> None:
    cfg = VadConfig(n_kernels=2, kernel_size=(3, 5), channels=4, dilations=(1,), n_mels=16)
    net = VadNet(cfg, seed=0)
    target = tmp_path / "never.onnx"
    with pytest.raises(RuntimeError, match="differs from torch"):
        export_onnx(net, target, {"gabortag.task": "vad"}, net.receptive_field, tolerance=-1.0)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    # an existing model at the target is left untouched by a failed export
    target.write_bytes(b"previous model")
    with pytest.raises(RuntimeError):
        export_onnx(net, target, {}, net.receptive_field, tolerance=-1.0)
    assert target.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["never.onnx"]


# ----------------------------------------------------------------------------- shipped model


def test_manifest_lists_vad() -> None:
    names = [e.name for e in manifest()]
    assert "vad" in names
    entry = next(e for e in manifest() if e.name == "vad")
    assert (models_dir() / entry.file).is_file()
    assert entry.task == "vad" and entry.sample_rate == 16000 and entry.labels == ("speech",)


def load_checkpoint_net(path: Path) -> VadNet:
    ck = torch.load(path, weights_only=False, map_location="cpu")
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(ck["config"]).items()}
    net = VadNet(VadConfig(**cfg))
    net.load_state_dict(ck["model"])
    return net.eval()


@pytest.mark.skipif(
    not CHECKPOINT.is_file(),
    reason=f"no torch checkpoint of the shipped model at {CHECKPOINT} (added at release)",
)
def test_shipped_onnx_equals_its_checkpoint() -> None:
    net = load_checkpoint_net(CHECKPOINT)
    model = load_model("vad", threads=1)
    info = model.info
    assert (info.hop, info.receptive_field, info.left_pad) == (
        net.hop,
        net.receptive_field,
        net.left_pad,
    )
    assert json.loads(info.metadata["gabortag.config"]) == json.loads(
        json_meta(net.config.to_dict())
    )
    wav, _ = load_audio(DATA / "speech_noise.flac", 16000)
    n = len(wav)
    n_out = -(-n // net.hop)
    padded = np.zeros(net.receptive_field + (n_out - 1) * net.hop, np.float32)
    padded[net.left_pad : net.left_pad + n] = wav
    with torch.no_grad():
        ref = torch.sigmoid(net(torch.from_numpy(padded)[None]))[0].numpy()
    assert len(ref) == n_out
    got = model.score(wav)
    assert got.shape == (n_out,)
    assert np.abs(got - ref).max() < 1e-4
    np.testing.assert_allclose(frame_probabilities(net, wav), ref, atol=1e-6)
