"""Test-split metrics: IWAE bound, active units, and evaluate_run combining all that apply."""
import json

import numpy as np
import pytest
import torch

from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.data import ImageData
from vae_studio.core.metrics import (Cancelled, active_units, evaluate_elbo, evaluate_run, iwae_nll,
                                     posterior_means)
from vae_studio.core.training import Trainer

from tests.core.helpers import toy_data


@pytest.fixture(scope="module")
def toy():
    return toy_data(n=500, size=12)


def trained(data, *, recon="bce", beta=1.0, epochs=2, latent=4, conditional=False):
    cfg = RunConfig(DataConfig(), ModelConfig(kind="cvae" if conditional else "vae", latent_dim=latent, hidden=[32]),
                    TrainConfig(beta=beta, recon=recon, epochs=epochs, batch_size=64, lr=3e-3))
    t = Trainer(cfg, data)
    t.train()
    return t.model


@pytest.fixture(scope="module")
def model(toy):
    return trained(toy)


def test_iwae_is_at_least_as_tight_as_the_elbo_and_tightens_with_k(toy, model):
    elbo = evaluate_elbo(model, toy.test_x, seed=0)["neg_elbo"]
    k50 = iwae_nll(model, toy.test_x, k=50, seed=0)["iwae_nll"]
    k1 = [iwae_nll(model, toy.test_x, k=1, seed=s)["iwae_nll"] for s in range(20)]
    # K=1 is the single-sample ELBO: equal to the analytic-KL ELBO in expectation
    assert np.mean(k1) == pytest.approx(elbo, abs=3 * np.std(k1) / np.sqrt(len(k1)) + 0.05)
    assert k50 <= elbo + 0.05
    assert k50 < np.mean(k1) - 0.1  # strictly tighter than one sample


def test_iwae_does_not_depend_on_how_it_is_batched(toy, model):
    a = iwae_nll(model, toy.test_x, k=30, seed=3, batch_size=50, max_decodes=10_000)["iwae_nll"]
    b = iwae_nll(model, toy.test_x, k=30, seed=3, batch_size=50, max_decodes=7)  # K split into chunks
    assert b["n"] == len(toy.test_x) and b["iwae_k"] == 30
    # same images, same K, a different noise layout: equal up to Monte Carlo noise
    assert b["iwae_nll"] == pytest.approx(a, rel=0.02)


def test_iwae_rejects_k_zero(toy, model):
    with pytest.raises(ValueError, match="at least 1"):
        iwae_nll(model, toy.test_x, k=0)


def test_active_units_counts_a_constant_dimension_as_inactive():
    rng = np.random.default_rng(0)
    means = np.stack([rng.normal(size=300), np.full(300, 2.5), 0.05 * rng.normal(size=300),
                      0.5 * rng.normal(size=300)], axis=1)
    res = active_units(means)
    assert res["active_units"] == 2  # var 1 and 0.25 count; 0 and 0.0025 do not
    assert res["mean_variance_per_dim"][1] == 0.0


def test_a_collapsed_model_has_fewer_active_units(toy):
    free = trained(toy, beta=1.0, latent=6, epochs=3)
    collapsed = trained(toy, beta=50.0, latent=6, epochs=3)
    au = [active_units(posterior_means(m, toy.test_x))["active_units"] for m in (free, collapsed)]
    assert au[1] < au[0]


def test_evaluate_run_without_factors(toy, model):
    res = evaluate_run(model, toy, recon="bce", beta=1.0, gamma=1.0, iwae_k=10)
    json.dumps(res)  # serialisable
    for key in ("neg_elbo", "recon", "kl", "kl_per_dim", "iwae_nll", "active_units", "mig", "factorvae"):
        assert key in res
    assert res["iwae_nll"] <= res["neg_elbo"] + 0.05
    assert res["neg_elbo"] == pytest.approx(res["recon"] + res["kl"])
    assert res["mig"] is None and "factors" in res["disentanglement_note"]
    assert 0 <= res["active_units"] <= 4


def test_evaluate_run_skips_iwae_for_mse_with_a_note(toy):
    m = trained(toy, recon="mse", epochs=1)
    res = evaluate_run(m, toy, recon="mse", beta=1.0, gamma=1.0, iwae_k=10)
    assert res["iwae_nll"] is None and "MSE" in res["iwae_note"]


def factor_data(n=600, seed=0):
    """Images whose two known factors are a bar's x position and its brightness."""
    g = np.random.default_rng(seed)
    f = np.stack([g.integers(0, 8, n), g.integers(0, 4, n)], axis=1)
    x = np.zeros((n, 1, 12, 12), np.uint8)
    for i, (px, b) in enumerate(f):
        x[i, 0, :, 2 + px] = 60 + 60 * b
    k = n * 9 // 10
    t = torch.from_numpy(x)
    return ImageData("bars", t[:k], t[k:], train_factors=f[:k], test_factors=f[k:],
                     factor_names=["x", "brightness"], factor_sizes=[8, 4])


def test_evaluate_run_with_factors_reports_disentanglement():
    data = factor_data()
    m = trained(data, epochs=2)
    res = evaluate_run(m, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=5, disentanglement_samples=400)
    json.dumps(res)
    assert 0.0 <= res["mig"] <= 1.0 and 0.0 <= res["factorvae"] <= 1.0
    assert res["disentanglement_n"] == 400 and res["factor_names"] == ["x", "brightness"]
    assert len(res["mig_per_factor"]) == 2


def test_evaluate_run_refuses_data_of_another_shape(model):
    with pytest.raises(ValueError, match="12x12"):
        evaluate_run(model, toy_data(n=50, size=16), recon="bce", beta=1.0, gamma=1.0)


def test_evaluate_run_can_be_cancelled(toy, model):
    with pytest.raises(Cancelled):
        evaluate_run(model, toy, recon="bce", beta=1.0, gamma=1.0, should_stop=lambda: True)


def test_evaluate_run_on_a_conditional_model():
    data = toy_data(n=300, size=12)
    m = trained(data, conditional=True, epochs=1)
    res = evaluate_run(m, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=5)
    assert res["iwae_nll"] <= res["neg_elbo"] + 0.05
