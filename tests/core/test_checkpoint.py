import io
import json
import pickle
import zipfile

import pytest
import torch

from tests.core.helpers import toy_data
from vae_studio.core.checkpoint import CheckpointError, Run, load_run, save_run
from vae_studio.core.config import RunConfig
from vae_studio.core.training import Trainer


@pytest.fixture
def saved(tmp_path):
    c = RunConfig()
    c.model.kind, c.model.hidden, c.model.latent_dim = "cvae", [32], 3
    c.train.epochs, c.train.batch_size = 1, 64
    data = toy_data()
    t = Trainer(c, data)
    t.train()
    run = Run(config=c, model=t.model, history=t.history, class_names=data.class_names, name="toy")
    return save_run(run, tmp_path / "run"), run, data


def test_saved_run_loads_to_identical_outputs_and_history(saved):
    folder, run, data = saved
    loaded = load_run(folder)
    x = data.test_x[:8].float() / 255
    y = data.test_y[:8]
    assert torch.equal(loaded.model.encode(x, y)[0], run.model.encode(x, y)[0])
    z = torch.randn(8, 3)
    assert torch.equal(loaded.model.decode(z, y), run.model.decode(z, y))
    assert loaded.history.epochs == run.history.epochs
    assert loaded.history.steps == run.history.steps
    assert loaded.class_names == ["c0", "c1", "c2"]
    assert loaded.config.to_dict() == run.config.to_dict()
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir())  # atomic writes leave nothing behind


def test_a_file_inside_the_folder_opens_the_run(saved):
    folder, _, _ = saved
    assert load_run(folder / "model.safetensors").config.model.kind == "cvae"


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_pickled_files_are_refused_without_running_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Boom()))
    torch.save({"payload": _Boom()}, tmp_path / "evil.pt")  # zip-format torch pickle
    for f in ("evil.pkl", "evil.pt"):
        with pytest.raises(CheckpointError, match="pickle"):
            load_run(tmp_path / f)
    run_dir = tmp_path / "fake"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"format": "vae-studio-run", "version": 1,
                                                     "config": RunConfig().to_dict()}))
    (run_dir / "model.safetensors").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(CheckpointError, match="pickle"):
        load_run(run_dir)
    assert not (tmp_path / "PWNED").exists()


def test_truncated_and_corrupt_weights_are_refused(saved):
    folder, _, _ = saved
    w = folder / "model.safetensors"
    raw = w.read_bytes()
    w.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        load_run(folder)
    w.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + raw[24:])
    with pytest.raises(CheckpointError, match="damaged"):
        load_run(folder)


def as_version_1(folder):
    """Turn a saved run into the format-1 layout (no manifest), as VAE Studio saved before the manifest,
    so that the checks beneath the manifest can be tried file by file."""
    (folder / "manifest.json").unlink()
    cfg = json.loads((folder / "config.json").read_text())
    cfg["version"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def test_foreign_or_mismatched_files_are_refused(saved, tmp_path):
    folder = as_version_1(saved[0])
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(folder / "model.safetensors"))  # a safetensors file, not ours
    with pytest.raises(CheckpointError, match="not saved by VAE Studio"):
        load_run(folder)
    save_file({"w": torch.zeros(3)}, str(folder / "model.safetensors"), metadata={"format": "vae-studio-run"})
    with pytest.raises(CheckpointError, match="does not match"):
        load_run(folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["version"] = 99
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="version 99"):
        load_run(folder)
    (folder / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_run(folder)
    other = tmp_path / "other.txt"
    other.write_text("hello")
    with pytest.raises(CheckpointError, match="not a VAE Studio run"):
        load_run(other)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_run(empty)


def test_a_zip_that_is_not_a_torch_file_is_still_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "x")
    (tmp_path / "thing.zip").write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError):
        load_run(tmp_path / "thing.zip")


def _header_low_byte(folder):
    return (folder / "model.safetensors").read_bytes()[0]


@pytest.mark.parametrize("arch, kind, channels", [("conv", "vae", 1), ("conv", "cvae", 3), ("mlp", "vae", 1)])
def test_every_size_of_model_saved_reopens_including_headers_whose_length_starts_with_0x80(
        tmp_path, arch, kind, channels):
    """A safetensors header length whose low byte is 0x80 (a pickle's first byte) once made saved runs unopenable."""
    seen_0x80 = False
    for fc in range(16, 65, 4):
        c = RunConfig()
        c.model.arch, c.model.kind, c.model.channels, c.model.image_size = arch, kind, channels, 32
        c.model.hidden, c.model.latent_dim = [fc], 2 + fc % 7
        c.model.num_classes = 10 if kind == "cvae" else 0
        torch.manual_seed(fc)
        from vae_studio.core.models import build_model
        run = Run(config=c, model=build_model(c.model), name=f"fc{fc}")
        folder = save_run(run, tmp_path / f"{arch}-{kind}-{fc}")
        seen_0x80 |= _header_low_byte(folder) == 0x80
        loaded = load_run(folder)  # the folder, and the weights file itself, both reopen
        load_run(folder / "model.safetensors")
        for k, v in run.model.state_dict().items():
            assert torch.equal(loaded.model.state_dict()[k], v), k
    if arch == "conv" and kind == "vae":
        assert seen_0x80, "the sweep no longer covers a header length with low byte 0x80"


def test_metrics_are_saved_with_the_run_and_reopen(saved, tmp_path):
    folder, run, _ = saved
    run.metrics = {"neg_elbo": 50.5, "iwae_k": 5, "kl_per_dim": [0.5, float("nan"), 1.0], "data_name": "toy"}
    save_run(run, tmp_path / "with-metrics")
    loaded = load_run(tmp_path / "with-metrics")
    assert loaded.metrics == {"neg_elbo": 50.5, "iwae_k": 5, "kl_per_dim": [0.5, None, 1.0], "data_name": "toy"}
    assert load_run(folder).metrics == {}  # a run saved without metrics has none


def test_damaged_metrics_are_refused_by_the_manifest(saved, tmp_path):
    _, run, _ = saved
    run.metrics = {"neg_elbo": 50.5}
    folder = save_run(run, tmp_path / "m")
    (folder / "metrics.json").write_text('{"neg_elbo": 51.5}\n')
    with pytest.raises(CheckpointError, match="manifest"):
        load_run(folder)
