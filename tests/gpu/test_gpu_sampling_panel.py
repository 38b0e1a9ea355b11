"""On a machine with a CUDA GPU: the sampling canvas decodes the same samples on the GPU as on the CPU.

Skipped cleanly where ``torch.cuda.is_available()`` is False, or where the GUI stack (PySide6, pytest-qt) is
not installed (a GPU box may have only the core's dependencies; tests/gpu/test_gpu_decode.py covers the core
there)."""
import numpy as np
import pytest
import torch

pytest.importorskip("PySide6", reason="needs PySide6 (the GUI is not installed here)")
pytest.importorskip("pytestqt", reason="needs pytest-qt")

from vae_studio.core.checkpoint import Run
from vae_studio.core.config import RunConfig
from vae_studio.core.latent import sample_prior
from vae_studio.core.models import build_model

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch finds none)")]

# TF32 convolutions/matmuls on recent GPUs differ from float32 CPU results by ~1e-3
ATOL = 3e-3


def make_run(arch: str) -> Run:
    c = RunConfig()
    c.model.arch, c.model.hidden, c.model.latent_dim, c.model.image_size = arch, [64], 8, 28
    c.validate()
    return Run(config=c, model=build_model(c.model, seed=0), name=arch)


@pytest.fixture
def panel(qtbot):
    from vae_studio.ui.sampling.panel import SamplingPanel
    from vae_studio.app.workspace import Workspace

    workspace = Workspace()
    p = SamplingPanel(workspace)
    qtbot.addWidget(p)
    yield workspace, p
    p.shutdown()


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_same_samples_decode_alike_on_cpu_and_gpu(panel, arch):
    workspace, p = panel
    workspace.add_run(make_run(arch))
    on_cpu = p.images.copy()
    workspace.set_decode_device("cuda")
    assert next(workspace.decode_model().parameters()).is_cuda
    assert "cuda" in p.model_label.text()
    on_gpu = p.images
    assert on_gpu.shape == on_cpu.shape == (64, 1, 28, 28)
    assert np.abs(on_gpu - on_cpu).max() < ATOL
    assert not np.allclose(on_gpu[0], on_gpu[1])  # distinct samples, not a constant output


def test_a_large_grid_decodes_on_the_gpu_in_the_background(panel, qtbot):
    workspace, p = panel
    run = make_run("conv")
    workspace.add_run(run)
    workspace.set_decode_device("cuda")
    with qtbot.waitSignal(p.decoder.done, timeout=30000):
        p.set_grid_side(32)
        assert p.decoder.running  # 1,024 images: decoded by the background runner, not the GUI thread
    qtbot.waitUntil(lambda: not p.decoder.busy, timeout=30000)
    assert p.grid.count == 1024
    expected = sample_prior(run.model.eval(), 1024, 1.0, 0)  # the run's own model, on the CPU
    assert np.abs(p.images - expected.numpy()).max() < ATOL
