"""ONNX export: the files run in onnxruntime and give what torch gives (max abs difference under 1e-4)."""
import json

import numpy as np
import pytest
import torch

from vae_studio.core.config import ModelConfig
from vae_studio.core.models import build_model
from vae_studio.core.onnx_export import ExportError, export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kind,arch", [("vae", "mlp"), ("vae", "conv"), ("cvae", "conv")])
def test_exported_encoder_mean_and_decoder_match_torch(tmp_path, kind, arch):
    cfg = ModelConfig(kind=kind, arch=arch, latent_dim=3, hidden=[24], image_size=16, channels=1,
                      num_classes=3 if kind == "cvae" else 0)
    model = build_model(cfg, seed=1).eval()
    paths = export_onnx(model, tmp_path / "out", class_names=["a", "b", "c"], name="r")
    assert [p.name for p in paths] == ["encoder.onnx", "decoder.onnx", "latent_space.json"]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 16, 16, generator=g)  # another batch size than the export's example
    z = torch.randn(7, 3, generator=g)
    y5, y7 = torch.tensor([0, 1, 2, 1, 0]), torch.tensor([2, 2, 1, 0, 0, 1, 2])
    cond = kind == "cvae"
    with torch.no_grad():
        mu = model.encode(x, y5 if cond else None)[0].numpy()
        img = torch.sigmoid(model.decode(z, y7 if cond else None)).numpy()
    enc_in = {"image": x.numpy(), **({"label": y5.numpy()} if cond else {})}
    dec_in = {"z": z.numpy(), **({"label": y7.numpy()} if cond else {})}
    got_mu = session(paths[0]).run(["mu"], enc_in)[0]
    got_img = session(paths[1]).run(["image"], dec_in)[0]
    assert got_mu.shape == (5, 3) and got_img.shape == (7, 1, 16, 16)
    assert np.abs(got_mu - mu).max() < 1e-4
    assert np.abs(got_img - img).max() < 1e-4
    d = json.loads(paths[2].read_text())
    assert d["latent_dim"] == 3 and d["input_shape"] == [1, 16, 16] and d["conditional"] == cond
    assert d["classes"] == (["a", "b", "c"] if cond else [])
    assert set(d["encoder"]["inputs"]) == ({"image", "label"} if cond else {"image"})
    assert list(d["decoder"]["outputs"]) == ["image"] and list(d["encoder"]["outputs"]) == ["mu"]


def test_existing_files_are_kept_unless_overwrite(tmp_path):
    model = build_model(ModelConfig(latent_dim=2, hidden=[8], image_size=8), seed=0)
    (tmp_path / "decoder.onnx").write_bytes(b"mine")
    with pytest.raises(ExportError, match="already has decoder.onnx"):
        export_onnx(model, tmp_path, overwrite=False)
    assert (tmp_path / "decoder.onnx").read_bytes() == b"mine"


@pytest.mark.parametrize("kind,settings", [("hvae", {"levels": 2, "top_dim": 2}),
                                           ("vq-vae", {"codebook_size": 8, "code_dim": 4})])
def test_other_latent_kinds_export_the_coordinates_the_explorer_shows(tmp_path, kind, settings):
    from vae_studio.core.config import RunConfig
    from vae_studio.core.latent_space import space_for

    cfg = RunConfig(model=ModelConfig(kind=kind, arch="conv", latent_dim=3, hidden=[24], image_size=16,
                                      settings=settings)).validate().model
    model = build_model(cfg, seed=1).eval()
    space = space_for(model)
    paths = export_onnx(model, tmp_path / "out")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 16, 16, generator=g)
    with torch.no_grad():
        coords = space.encode(x)[0]
        img = torch.sigmoid(space.decode(coords)).numpy()
    got = session(paths[0]).run(["mu"], {"image": x.numpy()})[0]
    assert got.shape == (3, space.dim) and np.abs(got - coords.numpy()).max() < 1e-4
    got_img = session(paths[1]).run(["image"], {"z": coords.numpy()})[0]
    assert np.abs(got_img - img).max() < 1e-4
    d = json.loads(paths[2].read_text())
    assert d["latent_dim"] == space.dim and d["latent_kind"] == space.kind and "N(0, I) over" not in d["prior"]
