"""`gabortag train ... --device`: a clear usage error when CUDA is asked for and absent."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from _cli_helpers import needs_script, run  # noqa: E402

pytestmark = [
    needs_script,
    pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU"),
]


@pytest.mark.parametrize(
    "task, extra",
    [
        ("scenes", []),
        ("birdcalls", ["--annotations", "table.csv"]),
        ("vad", ["--reference", "table.csv"]),
    ],
)
def test_cuda_without_gpu_is_a_usage_error(tmp_path: Path, task: str, extra: list[str]) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "table.csv").write_text("file,onset_s,offset_s,label\n")
    done = run("train", task, "--audio", "audio", *extra, "--device", "cuda", cwd=tmp_path)
    assert done.returncode == 2
    assert "no CUDA GPU" in done.stderr and "--device cpu" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / f"gabortag-{task}").exists()  # nothing was started


def test_unknown_device(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    done = run("train", "scenes", "--audio", "audio", "--device", "tpu", cwd=tmp_path)
    assert done.returncode == 2 and "choose cpu, cuda or auto" in done.stderr
