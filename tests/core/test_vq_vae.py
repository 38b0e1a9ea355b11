"""VQ-VAE: nearest-code quantisation, the straight-through gradient, the EMA codebook update, dead-code
restarts from the run's own generator, and a run that trains, saves and reopens with its codebook."""
import pytest
import torch

from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, parameter_count
from vae_studio.core.models import build_model, count_parameters
from vae_studio.core.training import Trainer
from vae_studio.core.vq import VectorQuantizer

from .helpers import toy_data


def quantizer(codebook, decay=0.9, restart_after=0):
    q = VectorQuantizer(len(codebook), codebook.shape[1], decay, restart_after)
    q.codebook.copy_(codebook)
    q.ema_sum.copy_(codebook)
    q.idle_steps.zero_()
    return q


def test_each_cell_takes_its_nearest_code():
    g = torch.Generator().manual_seed(0)
    q = quantizer(torch.randn(7, 3, generator=g)).eval()
    z_e = torch.randn(4, 3, 5, 5, generator=g)
    out = q(z_e)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.equal(out.codes.flatten(), torch.cdist(flat, q.codebook).argmin(1))
    assert torch.allclose(out.z_q.permute(0, 2, 3, 1).reshape(-1, 3), q.codebook[out.codes.flatten()])


def test_the_gradient_passes_straight_through_the_quantiser_to_the_encoder_output():
    g = torch.Generator().manual_seed(1)
    q = quantizer(torch.randn(5, 2, generator=g)).eval()
    z_e = torch.randn(2, 2, 3, 3, generator=g, requires_grad=True)
    w = torch.randn(2, 2, 3, 3, generator=g)
    (q(z_e).z_q * w).sum().backward()
    assert torch.allclose(z_e.grad, w)  # d z_q / d z_e is the identity
    assert q.codebook.grad is None  # the codebook is a buffer: no gradient, moved by moving averages


def test_the_codebook_moves_by_the_moving_average_of_its_assigned_encoder_outputs():
    codebook = torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]])
    q = quantizer(codebook, decay=0.9).train()
    z_e = torch.tensor([[1.0, 0.0], [0.0, 2.0], [9.0, 11.0]]).T.reshape(1, 2, 1, 3)  # cells: code 0, 0, 1
    q(z_e)
    counts, sums = torch.tensor([2.0, 1.0, 0.0]), torch.tensor([[1.0, 2.0], [9.0, 11.0], [0.0, 0.0]])
    n = 0.9 * torch.ones(3) + 0.1 * counts
    m = 0.9 * codebook + 0.1 * sums
    smoothed = (n + 1e-5) / (n.sum() + 3e-5) * n.sum()  # Laplace smoothing of the counts
    assert torch.allclose(q.ema_count, n) and torch.allclose(q.ema_sum, m)
    assert torch.allclose(q.codebook, m / smoothed[:, None], atol=1e-5)
    assert q.idle_steps.tolist() == [0.0, 0.0, 1.0]
    q.eval()
    before = q.codebook.clone()
    q(z_e)
    assert torch.equal(q.codebook, before)  # evaluation never moves the codebook


def test_a_code_unused_for_restart_after_steps_is_reseeded_from_an_encoder_output_of_the_runs_generator():
    codebook = torch.tensor([[0.0, 0.0], [100.0, 100.0]])  # code 1 is never the nearest
    g = torch.Generator().manual_seed(2)
    z_e = torch.randn(3, 2, 2, 2, generator=g)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 2)

    def run(seed):
        q = quantizer(codebook, decay=0.5, restart_after=2).train()
        gen = torch.Generator().manual_seed(seed)
        q(z_e, gen)
        assert q.codebook[1].tolist() != flat[0].tolist() and q.codebook[1, 0] > 10  # one idle step: not yet
        q(z_e, gen)
        return q

    global_state = torch.random.get_rng_state()
    q = run(7)
    assert torch.equal(torch.random.get_rng_state(), global_state)  # torch's global generator is not touched
    assert any(torch.equal(q.codebook[1], v) for v in flat)  # re-seeded from one of the batch's encoder outputs
    assert q.ema_count[1] == 1 and q.idle_steps[1] == 0
    assert torch.equal(run(7).codebook, q.codebook)  # the same generator state, the same restart


def test_parameter_count_is_exact_and_the_conv_architecture_is_required():
    for s in ({}, {"codebook_size": 16, "code_dim": 3}):
        for size, ch in ((16, 1), (28, 3)):
            m = ModelConfig(kind="vq-vae", arch="conv", image_size=size, channels=ch, settings=s)
            RunConfig(model=m).validate()
            assert parameter_count(m) == count_parameters(build_model(m, seed=0))
    with pytest.raises(ConfigError, match="--arch conv"):
        RunConfig(model=ModelConfig(kind="vq-vae", arch="mlp")).validate()


def test_a_vq_vae_run_trains_logs_its_codebook_terms_and_reopens_with_its_codebook(tmp_path):
    data = toy_data(n=300)
    cfg = RunConfig(model=ModelConfig(kind="vq-vae", arch="conv", settings={"codebook_size": 16, "code_dim": 4}),
                    train=TrainConfig(epochs=2, batch_size=64))
    trainer = Trainer(cfg, data)
    history = trainer.train()
    assert history.columns == ["total", "recon", "kl", "commitment", "perplexity", "codes_in_use"]
    last = history.epochs[-1]
    assert 1 <= last["test_perplexity"] <= 16 and 1 <= last["test_codes_in_use"] <= 16
    assert history.epochs[-1]["train_recon"] < history.epochs[0]["train_recon"]
    folder = save_run(Run(cfg, trainer.model, history, name="vq"), tmp_path / "vq")
    run = load_run(folder)
    assert torch.equal(run.model.quantizer.codebook, trainer.model.quantizer.codebook.cpu())
    x = data.test_x[:8].float() / 255
    assert torch.equal(run.model.codes(x), trainer.model.codes(x))
    assert run.history.epochs[-1]["test_kl_per_dim"] == history.epochs[-1]["test_kl_per_dim"]
