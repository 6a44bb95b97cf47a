"""``--scheduler ADDRESS``: inputs processed on a dask cluster (a small ``LocalCluster`` on
loopback here) give the same outputs, failures and skips as a local run; without dask the
option is a usage error that says what to install."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from gabortag.batch import process_files
from gabortag.batch.run import Failure
from gabortag.batch.spec import TaskSpec
from gabortag.tasks.results import EventResult

from _cli_helpers import needs_script, run  # isort: skip
from _paths import SPEECH  # isort: skip

pytestmark = needs_script


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A scheduler and one single-threaded worker in this process, reachable over TCP."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    """Three readable inputs and a corrupt one, in the working folder."""
    shutil.copy(SPEECH, tmp_path / "speech.flac")
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "noise.wav", 0.05 * rng.standard_normal(22_050), 22_050)
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "tone.flac", np.sin(np.arange(16_000) / 5.0) * 0.3, 16_000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEfmt nothing useful")
    return ["speech.flac", "noise.wav", "sub", "bad.wav"]


def test_cluster_output_equals_the_local_one(
    tmp_path: Path, inputs: list[str], cluster: Any
) -> None:
    address = cluster.scheduler_address
    local = run("vad", *inputs, "-", "-f", "json", "--jobs", "1", cwd=tmp_path, stdin=b"")
    there = run("vad", *inputs, "-", "-f", "json", "--scheduler", address, cwd=tmp_path, stdin=b"")
    assert local.returncode == there.returncode == 1  # bad.wav and the empty stdin
    assert there.stdout == local.stdout
    assert there.stdout.count('"error"') == 2 and there.stdout.count('"segments"') == 3
    assert "failed bad.wav: not a readable audio file" in there.stderr
    assert f"on the dask cluster at {address}" in there.stderr


def test_dir_mode_and_skip_existing_on_the_cluster(
    tmp_path: Path, inputs: list[str], cluster: Any
) -> None:
    address = cluster.scheduler_address
    done = run("vad", *inputs, "-o", "local", "-f", "csv", "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 1
    done = run("vad", *inputs, "-o", "there", "-f", "csv", "--scheduler", address, cwd=tmp_path)
    assert done.returncode == 1
    local, there = (sorted((tmp_path / d).rglob("*.csv")) for d in ("local", "there"))
    assert [p.name for p in there] == ["noise.csv", "speech.csv", "tone.csv"]
    assert [p.read_bytes() for p in there] == [p.read_bytes() for p in local]

    (tmp_path / "there" / "noise.csv").unlink()
    args = ("-o", "there", "-f", "csv", "--skip-existing", "--scheduler", address)
    again = run("vad", *inputs[:3], *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "1 done, 2 skipped, 0 failed" in again.stderr
    assert (tmp_path / "there" / "noise.csv").read_bytes() == local[0].read_bytes()


def test_python_api_names_inputs_as_given(
    tmp_path: Path,
    inputs: list[str],
    cluster: Any,
    bird_model: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths here; absolute ones are sent to the workers
    distributed = pytest.importorskip("distributed")
    spec = TaskSpec("birdcalls", bird_model, {"min_confidence": 0.0, "min_duration": 0.05})
    paths = ["speech.flac", "noise.wav", "bad.wav"]
    local = list(process_files(spec, paths, jobs=1))
    with distributed.Client(cluster) as client:
        there = list(process_files(spec, paths, scheduler=client))
    assert there == local
    assert [o.path for o in there] == paths
    assert isinstance(there[0], EventResult) and there[0].events
    assert isinstance(there[2], Failure) and "not a readable audio file" in there[2].reason


def test_bad_address_is_a_usage_error(tmp_path: Path, inputs: list[str]) -> None:
    pytest.importorskip("distributed")
    done = run("vad", *inputs, "--scheduler", "localhost", cwd=tmp_path)
    assert done.returncode == 2
    assert "'localhost' is not a dask scheduler address" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_dask_the_option_says_what_to_install(
    tmp_path: Path, inputs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``distributed`` that fails to import stands for dask not being installed."""
    fake = tmp_path / "nodask" / "distributed"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    path = [str(fake.parent), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, path)))
    done = run("vad", *inputs, "--scheduler", "tcp://127.0.0.1:8786", cwd=tmp_path)
    assert done.returncode == 2
    assert 'pip install "gabortag[dask]"' in done.stderr and "Traceback" not in done.stderr
