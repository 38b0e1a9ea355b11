"""Training on CUDA gives the same kind of run as on the CPU. Skipped on machines without a GPU (CI)."""
import pytest
import torch

from tests.core.helpers import toy_data
from tests.core.test_training import small_config
from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.training import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cuda_training_learns_and_saves_like_cpu(tmp_path):
    data = toy_data()
    results = {}
    for dev in ("cpu", "cuda"):
        t = Trainer(small_config(device=dev, epochs=3), data)
        t.train()
        assert t.history.status == "finished"
        results[dev] = t
    cpu, gpu = (results[d].history.epochs[-1]["test_neg_elbo"] for d in ("cpu", "cuda"))
    assert gpu == pytest.approx(cpu, rel=0.1)  # same model and data; only float rounding and noise differ
    t = results["cuda"]
    folder = save_run(Run(config=t.config, model=t.model, history=t.history), tmp_path / "gpu-run")
    loaded = load_run(folder)  # saved from the GPU, loaded on the CPU
    x = data.test_x[:4].float() / 255
    mu_gpu = t.model.encode(x.cuda())[0].cpu()
    assert torch.allclose(loaded.model.encode(x)[0], mu_gpu, atol=1e-4)
