"""On a machine with a CUDA GPU: decoding on the GPU gives the images the CPU gives (core only: runs on a
box without the GUI stack). Skipped cleanly where ``torch.cuda.is_available()`` is False."""
import copy

import numpy as np
import pytest
import torch

from vae_studio.core.config import ModelConfig
from vae_studio.core.latent import decode, sample_prior, slerp
from vae_studio.core.models import build_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch finds none)")]

ATOL = 3e-3  # TF32 convolutions on recent GPUs differ from float32 CPU results by ~1e-3


@pytest.mark.parametrize("arch,kind", [("mlp", "vae"), ("conv", "vae"), ("conv", "cvae")])
def test_prior_grid_and_interpolation_decode_alike_on_cpu_and_gpu(arch, kind):
    cfg = ModelConfig(arch=arch, kind=kind, hidden=[64], latent_dim=8, image_size=28,
                      num_classes=10 if kind == "cvae" else 0)
    cpu = build_model(cfg, seed=0).eval()
    gpu = copy.deepcopy(cpu).to("cuda")
    label = 3 if kind == "cvae" else None
    on_cpu, on_gpu = sample_prior(cpu, 64, 1.0, 5, label), sample_prior(gpu, 64, 1.0, 5, label)
    assert on_gpu.device.type == "cpu" and on_gpu.shape == on_cpu.shape == (64, 1, 28, 28)  # copied back
    assert (on_gpu - on_cpu).abs().max() < ATOL
    assert not torch.allclose(on_gpu[0], on_gpu[1])  # distinct samples, not a constant output
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    path = slerp(z[0], z[1], 10)
    assert (decode(gpu, path, label) - decode(cpu, path, label)).abs().max() < ATOL
