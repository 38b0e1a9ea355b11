"""`vae-studio sweep --engine ray`: Ray Tune trials on ray.init(num_cpus=2) write ordinary run folders and the
same table as the local engine; the same command again resumes, skipping finished trials. Skipped cleanly
where Ray is not installed (CI installs it with the test extra)."""
import csv
import os
import sys

import pytest
import torch

from tests.distributed.helpers import ROOT, sprites_subset, tiny_flags
from vae_studio.cli import main
from vae_studio.core.checkpoint import MANIFEST_FILE, METRICS_FILE, load_run


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    return sprites_subset(tmp_path_factory.mktemp("data") / "sprites-640.npz")


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), old) if p)  # the workers import this tree
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def flags(npz):
    return [*tiny_flags(npz, epochs=2, batch=32), "--iwae-k", "4", "--beta", "1,4"]


def table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_two_trial_ray_sweep_writes_runs_and_the_local_table_and_resumes(ray_cluster, npz, tmp_path, capsys):
    out = tmp_path / "ray"
    assert main(["sweep", "--engine", "ray", "--cpus-per-trial", "1", *flags(npz), "--out", str(out)]) == 0
    capsys.readouterr()
    for name in ("beta-1", "beta-4"):
        run = load_run(out / name)  # ordinary run folders, their metrics kept for the GUI
        assert run.history.status == "finished" and run.metrics["iwae_k"] == 4
        assert (out / name / METRICS_FILE).is_file()
    assert sorted(p.name for p in out.iterdir()) == ["beta-1", "beta-4", "results.csv", "results.md"]
    ray_rows = table(out / "results.csv")

    local = tmp_path / "local"
    assert main(["sweep", "--quiet", *flags(npz), "--out", str(local)]) == 0
    capsys.readouterr()
    local_rows = table(local / "results.csv")
    assert list(ray_rows[0]) == list(local_rows[0])  # the same columns
    for r, lo in zip(ray_rows, local_rows):  # the same runs: same seed, same data, so the same numbers
        assert r["beta"] == lo["beta"] and r["status"] == lo["status"] == "finished"
        for col in ("neg_elbo", "recon", "kl", "iwae_nll"):
            assert float(r[col]) == pytest.approx(float(lo[col]), rel=1e-5), col
    assert (out / "results.md").read_text().splitlines()[2:] == (local / "results.md").read_text().splitlines()[2:]

    # interrupted: beta-4 never finished; the same command trains it alone and keeps beta-1 as it was
    kept = (out / "beta-1" / MANIFEST_FILE).stat().st_mtime_ns
    import shutil

    shutil.rmtree(out / "beta-4")
    assert main(["sweep", "--engine", "ray", *flags(npz), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "beta-1: already trained, skipped" in err and "beta 4:" in err and "beta 1:" not in err
    assert (out / "beta-1" / MANIFEST_FILE).stat().st_mtime_ns == kept
    assert load_run(out / "beta-4").history.status == "finished"
    assert [r["beta"] for r in table(out / "results.csv")] == ["1.0", "4.0"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_a_gpu_request_without_a_gpu_is_refused_before_ray_starts(npz, tmp_path, capsys):
    out = tmp_path / "gpu"
    code = main(["sweep", "--engine", "ray", "--gpus-per-trial", "1", "--device", "cuda", *flags(npz), "--out",
                 str(out)])
    err = capsys.readouterr().err
    if "needs Ray Tune" in err:
        pytest.skip("ray is not installed")
    assert code == 1 and "no CUDA GPU" in err and "forever" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_the_ray_engine_without_ray_says_how_to_install_it(npz, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    assert main(["sweep", "--engine", "ray", *flags(npz), "--out", str(tmp_path / "s")]) == 1
    assert "pip install 'vae-studio[distributed]'" in capsys.readouterr().err


def test_ray_flags_are_refused_by_the_local_engine(npz, tmp_path, capsys):
    assert main(["sweep", "--cpus-per-trial", "2", *flags(npz), "--out", str(tmp_path / "s")]) == 1
    assert "--cpus-per-trial applies to --engine ray" in capsys.readouterr().err
