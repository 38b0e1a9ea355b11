"""The hierarchical VAE: the ladder posterior, the KL of each level against a hand computation, the levels
setting, and a run that trains, saves and reopens."""
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.config import ModelConfig, RunConfig, TrainConfig, parameter_count
from vae_studio.core.models import build_model, count_parameters
from vae_studio.core.training import Trainer
from vae_studio.core.variants import get_variant

from .helpers import toy_data


def hvae_config(**settings):
    return RunConfig(model=ModelConfig(kind="hvae", latent_dim=4, hidden=[32], image_size=16, settings=settings),
                     train=TrainConfig(epochs=2, batch_size=64)).validate()


def test_the_kl_of_each_level_matches_a_hand_computation_of_the_ladder_posterior_against_its_prior():
    cfg = hvae_config(levels=2, top_dim=3)
    model = build_model(cfg.model, seed=0)
    objective = get_variant("hvae").make_objective(cfg, 100, "cpu")
    x = toy_data(n=20).train_x.float() / 255
    with torch.no_grad():
        terms = objective.loss(model, x, None, 1.0, torch.Generator().manual_seed(5))
        # by hand, with the same draws: bottom-up estimates, the top posterior, then z1's precision-weighted posterior
        g = torch.Generator().manual_seed(5)
        h1 = model.encoder(x)
        h2 = model.up[0](h1)
        mu2, lv2 = model.q_stats[1](h2).chunk(2, 1)
        z2 = mu2 + torch.randn(mu2.shape, generator=g) * (0.5 * lv2).exp()
        mu_p, lv_p = model.p_nets[0](z2).chunk(2, 1)
        mu_h, lv_h = model.q_stats[0](h1).chunk(2, 1)
        var1 = 1 / (1 / lv_h.exp() + 1 / lv_p.exp())
        mu1 = (mu_h / lv_h.exp() + mu_p / lv_p.exp()) * var1
        kl2 = kl_divergence(Normal(mu2, (0.5 * lv2).exp()), Normal(0.0, 1.0)).sum(1).mean()
        kl1 = kl_divergence(Normal(mu1, var1.sqrt()), Normal(mu_p, (0.5 * lv_p).exp())).sum(1).mean()
    assert float(terms.extras["kl_z2"]) == pytest.approx(float(kl2), rel=1e-4)
    assert float(terms.extras["kl_z1"]) == pytest.approx(float(kl1), rel=1e-4)
    assert float(terms.kl) == pytest.approx(float(kl1 + kl2), rel=1e-4)
    assert float(terms.total) == pytest.approx(float(terms.recon + terms.kl), rel=1e-5)
    assert terms.kl_per_dim.shape == (4 + 3,)


def test_parameter_count_is_exact_for_levels_sizes_and_architectures():
    for arch, hidden in (("mlp", [48, 24]), ("conv", [40])):
        for s in ({}, {"levels": 3, "top_dim": 2}, {"levels": 5}):
            m = ModelConfig(kind="hvae", arch=arch, hidden=hidden, latent_dim=6, image_size=16, settings=s)
            RunConfig(model=m).validate()
            assert parameter_count(m) == count_parameters(build_model(m, seed=0)), (arch, s)


def test_an_hvae_run_logs_the_kl_of_each_level_and_reopens(tmp_path):
    data = toy_data(n=300)
    cfg = hvae_config(levels=3)
    cfg.train.kl_warmup_epochs = 1
    trainer = Trainer(cfg, data)
    history = trainer.train()
    assert history.columns == ["total", "recon", "kl", "kl_z1", "kl_z2", "kl_z3"]
    for row in history.steps:
        assert row[3] == pytest.approx(row[4] + row[5] + row[6], rel=1e-4, abs=1e-5)
    assert len(history.epochs[-1]["test_kl_per_dim"]) == 12  # 4 dims at each of 3 levels
    folder = save_run(Run(cfg, trainer.model, history, name="h"), tmp_path / "h")
    run = load_run(folder)
    x = data.test_x[:8].float() / 255
    assert torch.allclose(run.model.encode(x)[0], trainer.model.encode(x)[0])
    assert run.history.epochs == history.epochs
