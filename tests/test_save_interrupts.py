"""Real processes killed while `vae-studio train --out EXISTING --overwrite` saves: the folder always opens as
exactly the old run or exactly the new one. Also Ctrl-C while training (saves a stopped run) and while torch
is still being imported (one line, no traceback).

The save's test hook ($VAE_STUDIO_SAVE_PAUSE, see vae_studio/core/checkpoint.py) stops it at a named step
until a line arrives on stdin, so each kill lands at a known instant. Every instant is covered at once by one
process paused at each step in turn while the test copies the folder (what a SIGKILL there would leave);
real SIGKILLs and SIGINTs at the steps in between the renames check that the copies tell the truth.
"""
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vae_studio.cli import main
from vae_studio.core.checkpoint import SAVE_PAUSE_ENV, SAVE_STEPS, load_run

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120


def train_args(npz, out, *extra):
    return ["train", "--dataset", "npz", "--data-root", str(npz), "--hidden", "8", "--latent-dim", "2",
            "--epochs", "1", "--batch-size", "16", "--out", str(out), *extra]


class Proc:
    """`python -m vae_studio ARGS` with stderr read line by line in the background."""

    def __init__(self, args, step=None):
        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        env.pop(SAVE_PAUSE_ENV, None)
        if step:
            env[SAVE_PAUSE_ENV] = step
        self.p = subprocess.Popen([sys.executable, "-m", "vae_studio", *args], cwd=REPO, env=env, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stderr:
            self.err.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"exited before {text!r}: {''.join(self.err)}"
            if text in line:
                return

    def go_on(self):
        self.p.stdin.write("\n")
        self.p.stdin.flush()

    def finish(self) -> int:
        rc = self.p.wait(TIMEOUT)
        self.p.stdin.close()
        time.sleep(0.05)
        return rc

    def stderr(self) -> str:
        return "".join(self.err)


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """A tiny data set and an old run (seed 1) that each test copies and replaces with a new one (seed 2)."""
    base = tmp_path_factory.mktemp("interrupts")
    x = np.random.default_rng(0).integers(0, 256, (48, 8, 8), dtype=np.uint8)
    npz = base / "toy.npz"
    np.savez(npz, x=x)
    assert main(train_args(npz, base / "old" / "run", "--seed", "1")) == 0
    return npz, base / "old"


def copy_old(old_parent: Path, dest: Path) -> Path:
    shutil.copytree(old_parent, dest)
    return dest / "run"


def files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def which(folder: Path, old_files: dict) -> str:
    """'old' if the folder is byte for byte the old run, 'new' if it opens as one whole new save."""
    run = load_run(folder)  # recovers a cut-off save; checks the manifest binds every file
    assert sorted(p.name for p in folder.parent.iterdir()) == ["run"], "leftovers after recovery"
    if files(folder) == old_files:
        return "old"
    assert run.config.train.seed == 2 and (folder / "manifest.json").is_file()
    return "new"


def test_killed_at_every_instant_of_the_save_the_folder_is_the_old_or_the_new_run(old_run, tmp_path):
    npz, old_parent = old_run
    old_files = files(old_parent / "run")
    # the instants that once lost runs: new weights beside the old config, and between the two renames
    # (Ctrl-C at every step is also tried in-process: tests/core/test_run_folder.py)
    kills = [("SIGKILL", "wrote model.safetensors"), ("SIGKILL", "moved old aside"), ("SIGINT", "moved old aside")]
    procs = []
    every = copy_old(old_parent, tmp_path / "every")
    procs.append(Proc(train_args(npz, every, "--seed", "2", "--overwrite"), step="each"))
    for i, (sig, step) in enumerate(kills):
        out = copy_old(old_parent, tmp_path / f"kill{i}")
        procs.append(Proc(train_args(npz, out, "--seed", "2", "--overwrite"), step=step))

    # one process, paused at each step in turn: what a SIGKILL at that instant would leave on disk
    seen = []
    for step in SAVE_STEPS:
        procs[0].wait_for(f"{SAVE_PAUSE_ENV}: {step}")
        snap = tmp_path / f"snap-{len(seen)}"
        shutil.copytree(every.parent, snap, symlinks=True)
        seen.append(which(snap / "run", old_files))
        procs[0].go_on()
    assert procs[0].finish() == 0, procs[0].stderr()
    assert seen[0] == "old" and seen[-1] == "new" and "new" not in seen[:seen.index("new")]
    assert which(every, old_files) == "new"

    for (sig, step), proc, i in zip(kills, procs[1:], range(len(kills))):
        proc.wait_for(f"{SAVE_PAUSE_ENV}: {step}")
        proc.p.send_signal(getattr(signal, sig))
        rc = proc.finish()
        if sig == "SIGINT":  # Ctrl-C during the save: the save is undone, one line, no traceback
            assert rc == 130 and "Traceback" not in proc.stderr(), proc.stderr()
            assert proc.stderr().strip().splitlines()[-1] == "error: interrupted"
        assert which(tmp_path / f"kill{i}" / "run", old_files) in ("old", "new")


def test_ctrl_c_while_training_saves_what_was_trained_as_a_stopped_run(old_run, tmp_path):
    npz, _ = old_run
    out = tmp_path / "run"
    proc = Proc(train_args(npz, out, "--epochs", "100000"))
    proc.wait_for("epoch 1/100000")
    proc.p.send_signal(signal.SIGINT)
    assert proc.finish() == 130
    err = proc.stderr()
    assert "Traceback" not in err and "stopped by Ctrl-C" in err.strip().splitlines()[-1]
    run = load_run(out)
    assert run.history.status == "stopped" and len(run.history.epochs) >= 1


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps")
def test_ctrl_c_while_torch_is_still_being_imported_ends_with_one_line(old_run, tmp_path):
    npz, _ = old_run
    proc = Proc(train_args(npz, tmp_path / "run"))
    maps = Path(f"/proc/{proc.p.pid}/maps")
    deadline = time.monotonic() + TIMEOUT
    while "libtorch" not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.p.send_signal(signal.SIGINT)
    assert proc.finish() == 130
    assert proc.stderr().strip().splitlines()[-1] in ("error: interrupted",) or "stopped by Ctrl-C" in proc.stderr()
    assert "Traceback" not in proc.stderr(), proc.stderr()
