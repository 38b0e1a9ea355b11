"""torchrun with NCCL: one process on one GPU trains a run with DDP and writes its folder (skipped without CUDA)."""
import subprocess

import pytest
import torch

from tests.distributed.helpers import TORCHRUN, child_env, sprites_subset, tiny_flags
from vae_studio.core.checkpoint import load_run

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
              pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_nccl_available()),
                                 reason="torch without NCCL")]


def test_torchrun_with_nccl_on_one_gpu_writes_the_run(tmp_path):
    npz = sprites_subset(tmp_path / "sprites.npz")
    out = tmp_path / "nccl-run"
    r = subprocess.run([*TORCHRUN, "--nproc-per-node=1", "-m", "vae_studio", "train",
                        *tiny_flags(npz, epochs=2, batch=32), "--device", "cuda", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=child_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "no speed-up" not in r.stderr  # the CPU warning is for gloo only
    run = load_run(out)
    assert run.history.status == "finished" and run.config.train.device == "cuda"
    first, last = run.history.epochs[0]["test_neg_elbo"], run.history.epochs[-1]["test_neg_elbo"]
    assert last < first
