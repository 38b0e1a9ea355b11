"""`vae-studio train` under torchrun: two CPU processes (gloo) train one run with DDP.

One run folder, written once by rank 0; its losses match one process trained with the same global batch and
seed; a bad setting or a killed rank ends the job with one message, not a hang. The DDP logic itself
(shards, averaging) is in core/distributed.py."""
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
import torch

from tests.distributed.helpers import TORCHRUN, child_env, sprites_subset, tiny_flags
from vae_studio.cli import main
from vae_studio.core.checkpoint import load_run
from vae_studio.core.distributed import DataParallel, SINGLE_PROCESS, launched_by_torchrun

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without torch.distributed")

# The ranks draw their own reparameterisation noise (seed + rank), so the losses match one process's only up to
# that noise: the first step (same weights, same 32 images) within 0.5%, each epoch's mean within 2%.
FIRST_STEP_RTOL, EPOCH_RTOL = 0.005, 0.02


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    return sprites_subset(tmp_path_factory.mktemp("data") / "sprites-640.npz")


def torchrun(args, nproc=2, timeout=240):
    return subprocess.run([*TORCHRUN, f"--nproc-per-node={nproc}", "-m", "vae_studio", "train", *args],
                          capture_output=True, text=True, timeout=timeout, env=child_env())


def test_rank_shards_make_up_the_global_batch():
    perm = torch.randperm(101, generator=torch.Generator().manual_seed(0))
    ranks = [DataParallel(rank=r, world_size=2) for r in range(2)]
    shards = [p.shard(perm) for p in ranks]
    assert [len(s) for s in shards] == [50, 50] and ranks[0].shard_size(101) == 50
    for i in range(0, 50, 8):  # batch i of both ranks together = batch i of one process with twice the batch
        together = torch.cat([s[i:i + 8] for s in shards])
        assert sorted(together.tolist()) == sorted(perm[:100][2 * i:2 * i + 16].tolist())  # 1 image sits out
    assert SINGLE_PROCESS.shard(perm) is perm and not launched_by_torchrun({"RANK": "0"})
    assert launched_by_torchrun({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})


def test_two_cpu_processes_train_one_run_like_one_process_with_the_global_batch(npz, tmp_path, capsys):
    out = tmp_path / "ddp"
    r = torchrun([*tiny_flags(npz, epochs=2, batch=16), "--out", str(out)])
    assert r.returncode == 0, r.stderr[-3000:]
    # rank 0 alone prints: one warning, one line per epoch, one "saved"
    assert r.stderr.count("DDP on the CPU gives no speed-up") == 1
    assert r.stderr.count("epoch 1/2") == 1 and r.stderr.count("epoch 2/2") == 1
    assert r.stderr.count("saved run to") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]  # written once, nothing left beside it
    ddp = load_run(out)
    assert ddp.history.status == "finished" and ddp.config.train.batch_size == 16

    single = tmp_path / "single"
    assert main(["train", *tiny_flags(npz, epochs=2, batch=32), "--out", str(single)]) == 0
    capsys.readouterr()
    one = load_run(single)
    a, b = np.asarray(one.history.steps), np.asarray(ddp.history.steps)
    assert a.shape == b.shape == (2 * 18, 4)  # 576 images: 18 global batches of 32 per epoch
    np.testing.assert_array_equal(a[:, 0], b[:, 0])
    np.testing.assert_allclose(b[0, 1:], a[0, 1:], rtol=FIRST_STEP_RTOL)
    for ea, eb in zip(one.history.epochs, ddp.history.epochs):
        for key in ("train_total", "test_neg_elbo"):
            assert eb[key] == pytest.approx(ea[key], rel=EPOCH_RTOL), key
    assert ddp.history.epochs[-1]["test_neg_elbo"] < ddp.history.epochs[0]["test_neg_elbo"]  # it learns


def test_a_bad_setting_fails_every_rank_with_one_message(npz, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    r = torchrun([*tiny_flags(npz, epochs=1, batch=16), "--out", str(taken)])
    assert r.returncode != 0
    assert r.stderr.count("is not a VAE Studio run folder") == 1, r.stderr[-3000:]
    assert (taken / "notes.txt").read_text() == "mine"


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids


def _rank_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
    except OSError:
        return None
    return env.get(b"RANK", b"").decode() or None


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the rank's process through /proc")
def test_killing_one_rank_ends_the_job_with_a_message(npz, tmp_path):
    out = tmp_path / "killed"
    job = subprocess.Popen([*TORCHRUN, "--nproc-per-node=2", "-m", "vae_studio", "train",
                            *tiny_flags(npz, epochs=5000, batch=16), "--out", str(out)],
                           stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=child_env(),
                           start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(job.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("epoch 1/") for line in lines):
            assert job.poll() is None and time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(0.1)
        rank1 = [p for p in _children(job.pid) if _rank_of(p) == "1"]
        assert len(rank1) == 1
        os.kill(rank1[0], signal.SIGKILL)
        assert job.wait(timeout=90) != 0  # the job ends: no hang
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    reader.join(timeout=10)
    text = "".join(lines)
    assert text.count("error: the DDP job stopped: another process of it failed or stopped answering") == 1, \
        text[-3000:]
    assert not out.exists()  # nothing half-written
