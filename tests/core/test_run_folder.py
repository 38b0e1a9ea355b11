"""Saving a run folder is all or nothing; a folder mixing saves is refused; the destination is checked first."""
import json
import os
import shutil
import stat

import pytest
import torch

from vae_studio.core import checkpoint
from vae_studio.core.checkpoint import (CheckpointError, DestinationError, Run, check_destination, load_run,
                                        save_run, side_folders)
from vae_studio.core.config import RunConfig
from vae_studio.core.models import build_model


def small_run(seed: int, name="r") -> Run:
    c = RunConfig()
    c.model.hidden, c.model.latent_dim, c.model.image_size = [8], 2, 8
    c.train.seed = seed
    torch.manual_seed(seed)
    return Run(config=c, model=build_model(c.model), name=name)


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def same_weights(a: Run, b: Run) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_saved_files_have_the_usual_permissions_and_a_manifest(tmp_path):
    old = os.umask(0o022)
    try:
        folder = save_run(small_run(1), tmp_path / "run")
    finally:
        os.umask(old)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "history.json", "manifest.json",
                                                         "model.safetensors"]
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name  # readable by other users, not 0600
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["model.safetensors"]["bytes"] == (folder / "model.safetensors").stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left behind


def test_a_crash_at_any_instant_of_a_save_leaves_exactly_the_old_or_the_new_run(tmp_path, monkeypatch):
    """What a SIGKILL leaves is what is on disk at that instant: copy the disk at every step of the save and
    open each copy (the in-process twin of the subprocess kill test in tests/test_save_interrupts.py)."""
    parent = tmp_path / "runs"
    old_run, new_run = small_run(1, "old"), small_run(2, "new")
    save_run(old_run, parent / "run")
    old_files = folder_bytes(parent / "run")
    snaps = []

    def snapshot(step):
        dest = tmp_path / f"snap{len(snaps)}"
        shutil.copytree(parent, dest, symlinks=True)
        snaps.append((step, dest))

    monkeypatch.setattr(checkpoint, "_pause", snapshot)
    save_run(new_run, parent / "run", overwrite=True)
    assert [s for s, _ in snaps] == list(checkpoint.SAVE_STEPS)
    seen = []
    for step, snap in snaps:
        loaded = load_run(snap / "run")
        if folder_bytes(snap / "run") == old_files:
            seen.append("old")
        else:
            assert same_weights(loaded, new_run) and loaded.name == "new", step
            seen.append("new")
        assert sorted(p.name for p in snap.iterdir()) == ["run"], step  # recovery cleared the leftovers
    assert seen[0] == "old" and seen[-1] == "new" and seen == sorted(seen, key=["old", "new"].index)


@pytest.mark.parametrize("step", checkpoint.SAVE_STEPS)
def test_ctrl_c_at_any_step_of_a_save_leaves_the_old_or_the_new_run_and_nothing_else(tmp_path, monkeypatch, step):
    parent = tmp_path / "runs"
    save_run(small_run(1, "old"), parent / "run")
    old_files = folder_bytes(parent / "run")

    def interrupt(at):
        if at == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "_pause", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_run(small_run(2, "new"), parent / "run", overwrite=True)
    assert [p.name for p in parent.iterdir()] == ["run"]
    loaded = load_run(parent / "run")
    assert folder_bytes(parent / "run") == old_files or loaded.name == "new"


def test_a_folder_mixing_files_of_two_saves_is_refused(tmp_path):
    a = save_run(small_run(1), tmp_path / "a")
    b = save_run(small_run(2), tmp_path / "b")
    shutil.copy(b / "model.safetensors", a / "model.safetensors")  # same shapes: once silently accepted
    with pytest.raises(CheckpointError, match="does not match manifest.json"):
        load_run(a)
    (b / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="manifest.json is missing"):
        load_run(b)


def test_a_version_1_folder_without_a_manifest_still_opens(tmp_path):
    run = small_run(3)
    folder = save_run(run, tmp_path / "v1")
    (folder / "manifest.json").unlink()
    cfg = json.loads((folder / "config.json").read_text())
    cfg["version"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))
    assert same_weights(load_run(folder), run)


def test_a_save_cut_off_between_the_two_renames_is_undone_on_load(tmp_path):
    folder = save_run(small_run(1, "old"), tmp_path / "run")
    new, old = side_folders(folder)
    save_run(small_run(2, "new"), tmp_path / "staging")
    os.rename(folder, old)  # the old run moved aside, the new one complete but not yet moved in
    os.rename(tmp_path / "staging", new)
    assert load_run(folder).name == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_destination_is_checked_before_anything_is_written(tmp_path):
    run = small_run(1)
    (tmp_path / "file").write_text("x")
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "config.json").write_text('{"someone": "else"}')
    existing = save_run(run, tmp_path / "existing")
    cases = {"": "needs a name", str(tmp_path / "file"): "is a file", "/dev/null": "system folder",
             "/proc/vae-run": "system folder", str(tmp_path / ("x" * 300)): "too long",
             str(unrelated): "not a VAE Studio run folder", str(existing): "already holds a run",
             str(tmp_path / "file" / "below"): "not a folder"}
    for dest, message in cases.items():
        with pytest.raises(DestinationError, match=message):
            check_destination(dest)
        with pytest.raises(OSError):  # the GUI's save catches OSError
            save_run(run, dest, overwrite=False)
    assert (unrelated / "config.json").read_text() == '{"someone": "else"}'
    (existing / "notes.txt").write_text("mine")
    with pytest.raises(DestinationError, match="notes.txt"):  # replacing would delete the user's file
        save_run(run, existing, overwrite=True)
    assert (existing / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_destination_is_refused_before_saving(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(DestinationError, match="cannot save"):
            check_destination(ro / "run")
    finally:
        ro.chmod(0o755)


def test_a_run_saved_with_the_metrics_of_a_data_set_with_factors_opens_again(tmp_path):
    """evaluate_run on the sprites names the factors: a run saved with those metrics must reopen (it did not)."""
    from vae_studio.core.data import load_dataset
    from vae_studio.core.config import DataConfig
    from vae_studio.core.metrics import evaluate_run

    data = load_dataset(DataConfig(dataset="sprites"))
    run = small_run(0)
    run.config.model.image_size = data.image_size
    run.model = build_model(run.config.model)
    run.metrics = evaluate_run(run.model, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=0, seed=0)
    assert run.metrics["factor_names"] and all(isinstance(n, str) for n in run.metrics["factor_names"])
    save_run(run, tmp_path / "r")
    assert load_run(tmp_path / "r").metrics == json.loads(json.dumps(run.metrics))
