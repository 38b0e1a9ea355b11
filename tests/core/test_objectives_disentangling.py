"""beta-TCVAE, FactorVAE and DIP-VAE: each loss against a hand computation on a tiny batch, the pitfalls their
users hit (the TC estimators' bias and data set size, negative TC estimates, FactorVAE's shuffle, optimiser
and detached inputs), and a short training of each that is saved and reopened."""
import itertools
import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.config import ModelConfig, RunConfig, TrainConfig, parameter_count
from vae_studio.core.losses import kl_per_dim, recon_per_sample
from vae_studio.core.factorvae_model import Discriminator
from vae_studio.core.metrics import evaluate_run
from vae_studio.core.models import build_model, count_parameters, init_parameters
from vae_studio.core.objectives import beta_tcvae
from vae_studio.core.objectives.beta_tcvae import log_stratified_weights, tc_decomposition
from vae_studio.core.objectives.dip_vae import dip_penalties, latent_covariance
from vae_studio.core.objectives.factorvae import permute_dims
from vae_studio.core.training import Trainer
from vae_studio.core.variants import get_variant

from .helpers import toy_data

SMALL_DISC = {"disc_layers": 2, "disc_hidden": 32}


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: a second thread only adds synchronisation (many times the work on a busy
    machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def log_n(z, mu, logvar):
    """log N(z; mu, exp(logvar)) of numbers, or elementwise of tensors."""
    exp = torch.exp if torch.is_tensor(logvar) else math.exp
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / exp(logvar))


class FixedModel(nn.Module):
    """A stand-in network: encode returns given (mu, logvar) rows (indexed by the batch's first pixel),
    decode a fixed linear map of z, so that a loss can be recomputed by hand."""

    conditional = False

    def __init__(self, mu, logvar, pixels=4):
        super().__init__()
        self.mu, self.logvar = mu, logvar
        self.dec = nn.Linear(mu.shape[1], pixels)
        with torch.no_grad():
            self.dec.weight.copy_(torch.linspace(-1, 1, pixels * mu.shape[1]).view(pixels, -1))
            self.dec.bias.fill_(0.1)

    def encode(self, x, y=None):
        idx = x.flatten(1)[:, 0].round().long()
        return self.mu[idx], self.logvar[idx]

    def decode(self, z, y=None):
        return self.dec(z).view(-1, 1, 2, 2)

    def forward(self, x, y=None, generator=None):
        mu, logvar = self.encode(x)
        return self.decode(mu + torch.randn(mu.shape, generator=generator) * torch.exp(0.5 * logvar)), mu, logvar


def with_discriminator(model, layers=2, hidden=32, seed=0):
    """``model`` with a FactorVAE discriminator on its codes (as FactorVAEModel has), drawn from ``seed``."""
    d = Discriminator(model.mu.shape[1], layers, hidden)
    model.discriminator = init_parameters(d, torch.Generator().manual_seed(seed))
    return model


def batch_for(model, n):
    """Images whose first pixel names the row of the model's (mu, logvar), the rest in [0, 1]."""
    x = torch.linspace(0, 1, n * 4).view(n, 1, 2, 2).clone()
    x.view(n, -1)[:, 0] = torch.arange(n, dtype=torch.float32)
    return x


def objective_for(kind, settings=None, data_size=100, latent_dim=2, recon="bce", gamma=1.0, seed=0):
    cfg = RunConfig(model=ModelConfig(kind=kind, latent_dim=latent_dim, settings=settings or {}),
                    train=TrainConfig(recon=recon, gamma=gamma, seed=seed)).validate()
    return get_variant(kind).make_objective(cfg, data_size, "cpu")


def draws(mu, logvar, seed):
    """The z that forward_with_z draws with a generator seeded with ``seed``."""
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed))
    return mu + eps * torch.exp(0.5 * logvar)


def tiny_posteriors(b=3, d=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randn(b, d, generator=g) * 0.5 - 0.5


# ------------------------------------------------------------------------------------------- beta-TCVAE


def hand_tc(z, mu, logvar, n_data, estimator):
    """MI, TC and dimension-wise KL with explicit loops and the weights written out."""
    b, d = len(z), len(z[0])
    m = b - 1
    mi = tc = dkl = 0.0
    for i in range(b):
        if estimator == "mss":
            w = [1 / n_data if k == i else ((n_data - m) / (n_data * m) if k == (i + 1) % b else 1 / m)
                 for k in range(b)]
        else:
            w = [1 / (n_data * b)] * b
        joint = sum(w[k] * math.exp(sum(log_n(z[i][j], mu[k][j], logvar[k][j]) for j in range(d)))
                    for k in range(b))
        marg = [sum(w[k] * math.exp(log_n(z[i][j], mu[k][j], logvar[k][j])) for k in range(b)) for j in range(d)]
        cond = sum(log_n(z[i][j], mu[i][j], logvar[i][j]) for j in range(d))
        prior = sum(log_n(z[i][j], 0.0, 0.0) for j in range(d))
        mi += cond - math.log(joint)
        tc += math.log(joint) - sum(math.log(v) for v in marg)
        dkl += sum(math.log(v) for v in marg) - prior
    return mi / b, tc / b, dkl / b


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_tc_decomposition_matches_a_hand_computation(estimator):
    mu, logvar = tiny_posteriors()
    z = draws(mu, logvar, 3)
    got = tc_decomposition(z, mu, logvar, data_size=50, estimator=estimator)
    want = hand_tc(z.tolist(), mu.tolist(), logvar.tolist(), 50, estimator)
    assert [float(v) for v in got] == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_stratified_weights_sum_to_one_and_give_an_unbiased_q_z():
    n, b = 5, 3
    assert log_stratified_weights(b, n).exp().sum(1).tolist() == pytest.approx([1.0] * b)
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(n, 2, generator=g), torch.randn(n, 2, generator=g) * 0.3
    z0 = mu[0] + 0.3
    q_given = log_n(z0, mu, logvar).sum(1).exp()  # q(z0 | x_n) for every image n
    exact = float(q_given.mean())
    w = log_stratified_weights(b, n).exp()
    # every ordered batch that holds image 0 is equally likely: the estimate of q(z0) averages to the exact value
    estimates = [float((w[batch.index(0)] * q_given[list(batch)]).sum())
                 for batch in itertools.permutations(range(n), b) if 0 in batch]
    assert np.mean(estimates) == pytest.approx(exact, rel=1e-6)


def separated_posteriors(b, d):
    """Narrow posteriors far apart in every dimension (each dimension tells the images apart)."""
    mu = torch.stack([torch.randperm(b, generator=torch.Generator().manual_seed(j)).float() * 10 for j in range(d)], 1)
    return mu, torch.full((b, d), -8.0), mu + 0.01


def test_mws_overestimates_tc_by_d_minus_1_log_batch_and_mss_needs_the_data_set_size():
    b, d, n = 16, 4, 10_000
    mu, logvar, z = separated_posteriors(b, d)
    mss = float(tc_decomposition(z, mu, logvar, n, "mss")[1])
    mws = float(tc_decomposition(z, mu, logvar, n, "mws")[1])
    assert mss == pytest.approx((d - 1) * math.log(n), abs=1e-3)  # the TC of N images told apart
    assert mws - mss == pytest.approx((d - 1) * math.log(b), abs=1e-3)
    # what a data set size defaulted to the batch size would report instead
    assert float(tc_decomposition(z, mu, logvar, b, "mss")[1]) == pytest.approx((d - 1) * math.log(b), abs=1e-3)
    with pytest.raises(ValueError, match="data set size"):
        tc_decomposition(z, mu, logvar, b - 1, "mss")


def test_the_three_parts_add_up_to_the_kl_estimate_whose_mean_is_the_analytic_kl():
    g = torch.Generator().manual_seed(0)
    b, d = 1500, 3
    mu, logvar = torch.randn(b, d, generator=g) * 0.8, torch.randn(b, d, generator=g) * 0.4 - 1
    z = mu + torch.randn(b, d, generator=g) * torch.exp(0.5 * logvar)
    per_sample = (log_n(z, mu, logvar).sum(1) - log_n(z, 0 * z, 0 * z).sum(1)).double()
    for estimator in ("mss", "mws"):
        mi, tc, dkl = tc_decomposition(z, mu, logvar, 60_000, estimator)
        assert float(mi + tc + dkl) == pytest.approx(float(per_sample.mean()), abs=1e-3)
    analytic = float(kl_per_dim(mu, logvar).sum(1).mean())
    stderr = float(per_sample.std()) / math.sqrt(b)
    assert abs(float(per_sample.mean()) - analytic) < 4 * stderr


def test_beta_tcvae_loss_is_the_weighted_sum_of_its_parts_and_ignores_the_runs_beta():
    mu, logvar = tiny_posteriors(b=4)
    model = FixedModel(mu, logvar)
    x = batch_for(model, 4)
    obj = objective_for("beta-tcvae", {"mi_weight": 2.0, "tc_weight": 6.0, "dim_kl_weight": 0.5}, data_size=100,
                        recon="mse", gamma=3.0)
    terms = obj.loss(model, x, None, 1.0, torch.Generator().manual_seed(7))
    z = draws(mu, logvar, 7)
    mi, tc, dkl = hand_tc(z.tolist(), mu.tolist(), logvar.tolist(), 100, "mss")
    rec = float(recon_per_sample(model.decode(z), x, "mse").mean().detach())
    assert [float(terms.extras[k].detach()) for k in ("mi", "tc", "dim_kl")] == pytest.approx([mi, tc, dkl], abs=1e-5)
    assert float(terms.recon.detach()) == pytest.approx(rec, rel=1e-5)
    assert float(terms.total.detach()) == pytest.approx(3 * rec + 2 * mi + 6 * tc + 0.5 * dkl, rel=1e-5)
    assert float(terms.kl.detach()) == pytest.approx(float(kl_per_dim(mu, logvar).sum(1).mean()), rel=1e-6)
    other_beta = obj.loss(model, x, None, 4.0, torch.Generator().manual_seed(7))
    # alpha, beta and gamma replace the run's beta
    assert float(other_beta.total.detach()) == float(terms.total.detach())
    assert not get_variant("beta-tcvae").uses_beta


def test_a_negative_tc_estimate_is_reported_as_it_is():
    # every posterior is almost the prior: q(z) factorises, the true TC is 0 and the estimate scatters around it
    n = 64
    g = torch.Generator().manual_seed(0)
    model = FixedModel(torch.randn(n, 3, generator=g) * 0.05, torch.zeros(n, 3))
    x = batch_for(model, n)
    obj = objective_for("beta-tcvae", data_size=1000, latent_dim=3)
    tcs = [float(obj.loss(model, x, None, 1.0, torch.Generator().manual_seed(s)).extras["tc"]) for s in range(8)]
    assert min(tcs) < 0 < max(tcs) and max(abs(t) for t in tcs) < 0.1


def test_the_trainer_gives_beta_tcvae_the_training_split_size_and_the_evaluation_that_of_the_split(monkeypatch):
    data = toy_data()
    cfg = RunConfig(model=ModelConfig(kind="beta-tcvae", latent_dim=2, hidden=[16]), train=TrainConfig(epochs=1))
    trainer = Trainer(cfg, data)
    assert trainer.objective.data_size == len(data.train_x) != cfg.train.batch_size
    seen = []

    def spy(z, mu, logvar, data_size, estimator="mss"):
        seen.append(data_size)
        return tc_decomposition(z, mu, logvar, data_size, estimator)

    monkeypatch.setattr(beta_tcvae, "tc_decomposition", spy)
    trainer.objective.evaluate(trainer.model, data.test_x, None, 1.0)
    assert seen == [len(data.test_x)] and trainer.objective.data_size == len(data.train_x)


# ------------------------------------------------------------------------------------------- FactorVAE


def test_the_shuffle_permutes_each_dimension_across_the_batch_with_the_runs_generator():
    z = torch.arange(40.0).view(10, 4)  # every value unique: where it went is visible
    global_state = torch.random.get_rng_state()
    out = permute_dims(z, torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), global_state)  # torch's global generator is not drawn
    assert torch.equal(out.sort(0).values, z)  # each column keeps its own values: shuffled within the column
    rows_of_z = {tuple(r) for r in z.tolist()}
    assert sum(tuple(r) not in rows_of_z for r in out.tolist()) >= 5  # columns move independently
    assert torch.equal(out, permute_dims(z, torch.Generator().manual_seed(0)))


def test_factorvae_loss_uses_the_discriminators_logit_difference():
    mu, logvar = tiny_posteriors(b=4)
    model = with_discriminator(FixedModel(mu, logvar))
    x = batch_for(model, 4)
    obj = objective_for("factorvae", {"tc_weight": 6.4, **SMALL_DISC})
    terms = obj.loss(model, x, None, 2.0, torch.Generator().manual_seed(5))
    z = draws(mu, logvar, 5)
    logits = model.discriminator(z)
    tc = float((logits[:, 0] - logits[:, 1]).mean())
    rec = float(recon_per_sample(model.decode(z), x, "bce").mean().detach())
    kl = float(kl_per_dim(mu, logvar).sum(1).mean())
    assert float(terms.extras["tc"].detach()) == pytest.approx(tc, rel=1e-5)
    assert float(terms.total.detach()) == pytest.approx(rec + 2.0 * kl + 6.4 * tc, rel=1e-5)
    assert 0.0 <= float(terms.extras["disc_acc"].detach()) <= 1.0


def test_the_discriminator_trains_on_its_own_optimiser_with_detached_codes_of_another_batch():
    mu, logvar = tiny_posteriors(b=8, d=2)
    model = with_discriminator(FixedModel(mu, logvar))
    x = batch_for(model, 8)
    obj = objective_for("factorvae", SMALL_DISC)
    vae_opt = torch.optim.Adam(obj.model_parameters(model))
    disc = model.discriminator
    disc_params = set(disc.parameters())
    assert not disc_params & {p for g in vae_opt.param_groups for p in g["params"]}
    assert {p for g in vae_opt.param_groups for p in g["params"]} == set(model.dec.parameters())
    gen = torch.Generator().manual_seed(0)
    before = [p.clone() for p in disc.parameters()]

    def step():
        terms = obj.loss(model, x, None, 1.0, gen)
        vae_opt.zero_grad()
        terms.total.backward()
        assert all(p.grad is None for p in disc_params)  # the VAE's loss leaves the discriminator alone
        grads = [p.grad.clone() for p in model.dec.parameters()]
        obj.after_step(model, x, None, gen)
        assert all(torch.equal(a, p.grad) for a, p in zip(grads, model.dec.parameters()))  # detached: no grads
        assert all(p.grad is None for p in disc_params)  # nothing stale for the run's gradient clipping
        vae_opt.step()

    step()  # the first step has no previous batch to shuffle: the discriminator waits
    assert all(torch.equal(a, p) for a, p in zip(before, disc.parameters()))
    assert float(disc.steps) == 0 and obj.disc_optimizer is None
    step()
    assert not all(torch.equal(a, p) for a, p in zip(before, disc.parameters()))
    assert float(disc.steps) == 1
    assert obj.disc_optimizer.param_groups[0]["betas"] == (0.5, 0.9)
    assert obj.disc_optimizer.param_groups[0]["params"] == list(disc.parameters())


def test_an_untrained_discriminator_reports_no_tc_on_evaluation():
    data = toy_data(n=100)
    cfg = RunConfig(model=ModelConfig(kind="factorvae", latent_dim=2, hidden=[16], settings=SMALL_DISC)).validate()
    cfg.model.image_size = data.image_size
    obj = get_variant("factorvae").make_objective(cfg, len(data.train_x), "cpu")
    res = obj.evaluate(build_model(cfg.model, seed=0), data.test_x, None, 1.0)  # a run that never trained
    assert all(math.isnan(res[k]) for k in ("total", "tc", "disc_acc"))


def test_the_discriminator_learns_the_total_correlation_of_correlated_codes():
    # z = (u, u) + noise of sd 0.14: strongly dependent dimensions, TC = -log(1 - rho^2) / 2 = 1.7 nats
    n = 128
    obj = objective_for("factorvae", {"disc_layers": 2, "disc_hidden": 32, "disc_lr": 3e-3})
    gen = torch.Generator().manual_seed(0)
    model = with_discriminator(FixedModel(torch.zeros(n, 2), torch.full((n, 2), -4.0)))
    for _ in range(150):
        u = torch.randn(n, 1, generator=gen)
        model.mu = torch.cat([u, u], 1)
        terms = obj.loss(model, batch_for(model, n), None, 1.0, gen)
        obj.after_step(model, None, None, gen)
    assert 0.8 < float(terms.extras["tc"].detach()) < 3 and float(terms.extras["disc_acc"].detach()) > 0.7


def test_a_reopened_factorvae_run_keeps_its_trained_discriminator_and_reports_its_terms(tmp_path):
    data = toy_data(n=200)
    cfg = RunConfig(model=ModelConfig(kind="factorvae", latent_dim=3, hidden=[16], settings=SMALL_DISC),
                    train=TrainConfig(epochs=2, batch_size=64))
    trainer = Trainer(cfg, data)
    history = trainer.train()
    model, disc = trainer.model, trainer.model.discriminator
    assert count_parameters(model) == parameter_count(cfg.model) > count_parameters(build_model(
        ModelConfig(kind="vae", latent_dim=3, hidden=[16], image_size=data.image_size)))
    run_adam = {p for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not run_adam & set(disc.parameters())  # the discriminator trains on its own Adam only
    assert run_adam | set(disc.parameters()) == set(model.parameters())
    assert float(disc.steps) == trainer.step - 1 > 0  # an update after every step but the first
    t = cfg.train
    kw = dict(recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=0, seed=t.seed, config=cfg, steps_done=trainer.step)
    before = evaluate_run(model, data, **kw)
    assert before["tc"] == pytest.approx(history.last["test_tc"], rel=1e-5)
    save_run(Run(cfg, model, history, data.class_names, "r"), tmp_path / "r")

    back = load_run(tmp_path / "r")
    saved = back.model.discriminator.state_dict()
    assert saved.keys() == disc.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in disc.state_dict().items())
    after = evaluate_run(back.model, data, **kw)
    for key in ("tc", "disc_acc", "objective_total"):
        assert math.isfinite(after[key]) and after[key] == pytest.approx(before[key], rel=1e-5, abs=1e-6), key


def test_eval_on_the_command_line_reports_a_saved_factorvae_runs_terms(tmp_path, capsys):
    from vae_studio.cli import main

    rng = np.random.default_rng(0)
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=(rng.random((200, 8, 8)) > 0.5).astype(np.uint8) * 255, y=np.arange(200) % 3)
    out = tmp_path / "run"
    assert main(["train", "--dataset", "npz", "--data-root", str(npz), "--hidden", "16", "--latent-dim", "3",
                 "--epochs", "2", "--batch-size", "64", "--model", "factorvae", "--disc-layers", "2",
                 "--disc-hidden", "32", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json", "--iwae-k", "0"]) == 0
    res = json.loads(capsys.readouterr().out)
    last = load_run(out).history.last  # what the trainer measured at its last epoch, before saving
    for key in ("tc", "disc_acc"):
        assert math.isfinite(res[key]) and res[key] == pytest.approx(last[f"test_{key}"], rel=1e-5, abs=1e-6)


# ------------------------------------------------------------------------------------------- DIP-VAE


@pytest.mark.parametrize("dip_type", ["i", "ii"])
def test_dip_vae_loss_matches_a_hand_computation(dip_type):
    mu, logvar = tiny_posteriors(b=5, d=3)
    model = FixedModel(mu, logvar)
    x = batch_for(model, 5)
    obj = objective_for("dip-vae", {"dip_type": dip_type, "lambda_od": 3.0, "lambda_d": 7.0}, latent_dim=3)
    terms = obj.loss(model, x, None, 2.0, torch.Generator().manual_seed(1))
    m = mu.double().numpy()
    cov = np.cov(m, rowvar=False, bias=True)
    if dip_type == "ii":
        cov = cov + np.diag(np.exp(logvar.double().numpy()).mean(0))
    od = sum(cov[i, j] ** 2 for i in range(3) for j in range(3) if i != j)
    d = sum((cov[i, i] - 1) ** 2 for i in range(3))
    own = [float(terms.extras[k].detach()) for k in ("dip_od", "dip_d")]
    assert own == pytest.approx([od, d], rel=1e-5)
    z = draws(mu, logvar, 1)
    rec = float(recon_per_sample(model.decode(z), x, "bce").mean().detach())
    kl = float(kl_per_dim(mu, logvar).sum(1).mean())
    assert float(terms.total.detach()) == pytest.approx(rec + 2.0 * kl + 3.0 * od + 7.0 * d, rel=1e-5)


def test_dip_penalty_vanishes_at_the_identity():
    assert [float(v) for v in dip_penalties(torch.eye(4))] == [0.0, 0.0]
    # type ii adds the mean posterior variance: unit-variance posteriors at one point make the identity
    assert torch.allclose(latent_covariance(torch.zeros(6, 4), torch.zeros(6, 4), "ii"), torch.eye(4))


# ------------------------------------------------------------------------------------------- training


@pytest.mark.parametrize("kind,settings", [
    ("beta-tcvae", {}), ("beta-tcvae", {"tc_estimator": "mws"}), ("factorvae", SMALL_DISC),
    ("dip-vae", {}), ("dip-vae", {"dip_type": "ii"})])
@pytest.mark.parametrize("arch,recon,conditional", [("mlp", "bce", False), ("conv", "mse", True)])
def test_each_variant_trains_saves_and_reopens(kind, settings, arch, recon, conditional, tmp_path):
    data = toy_data(n=200)
    cfg = RunConfig(model=ModelConfig(kind=kind, arch=arch, latent_dim=3, hidden=[16], conditional=conditional,
                                      settings=settings),
                    train=TrainConfig(epochs=2, batch_size=64, recon=recon))
    trainer = Trainer(cfg, data)
    history = trainer.train()
    terms = get_variant(kind).terms
    assert history.status == "finished" and history.columns == ["total", "recon", "kl", *terms]
    assert all(math.isfinite(v) for row in history.steps for v in row)
    assert all(f"test_{t}" in history.last and math.isfinite(history.last[f"test_{t}"]) for t in terms)
    save_run(Run(cfg, trainer.model, history, data.class_names, "r"), tmp_path / "r")
    back = load_run(tmp_path / "r")
    assert back.config.model.kind == kind and back.config.model.settings == cfg.model.settings
    assert back.history.columns == history.columns and back.model.conditional == conditional
    x, y = data.test_x[:5].float() / 255, data.test_y[:5]
    assert torch.equal(back.model.encode(x, y)[0], trainer.model.encode(x, y)[0])
