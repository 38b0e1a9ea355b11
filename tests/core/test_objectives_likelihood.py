"""InfoVAE (MMD), capacity-vae and IWAE: each loss against a hand computation on a tiny batch, the IWAE gradient
against a brute-force one, and a short training of each that saves and reopens."""
import copy
import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.losses import kl_per_dim, recon_per_sample, vae_loss
from vae_studio.core.models import build_model
from vae_studio.core.objectives.capacity import capacity_at
from vae_studio.core.objectives.infovae import kernel_matrix, mmd
from vae_studio.core.objectives.iwae import log_weight_parts
from vae_studio.core.training import TrainControl, Trainer
from vae_studio.core.variants import get_variant

from .helpers import toy_data


def objective_for(kind, settings=None, *, recon="bce", gamma=1.0, latent=2, size=4, data_size=8, batch=8,
                  conditional=False):
    cfg = RunConfig(model=ModelConfig(kind=kind, latent_dim=latent, hidden=[5], image_size=size, channels=1,
                                      conditional=conditional, num_classes=3 if conditional else 0,
                                      settings=settings or {}),
                    train=TrainConfig(recon=recon, gamma=gamma, batch_size=batch)).validate()
    model = build_model(cfg.model, seed=0)
    return get_variant(kind).make_objective(cfg, data_size, "cpu"), model


def tiny_batch(n=3, size=4, seed=1):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


def gen(seed=7):
    return torch.Generator().manual_seed(seed)


def test_the_declarations_import_no_torch():
    """The Model list and its settings form are built before torch is imported."""
    code = ("import sys\nfrom vae_studio.core.variants import get_variant\n"
            "specs = [get_variant(k).settings_specs() for k in ('infovae', 'capacity-vae', 'iwae')]\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------------- MMD


def test_kernels_match_their_formulas_on_two_points():
    a, b = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[1.0, -1.0, 2.0]])  # |a - b|^2 = 5, D = 3
    assert kernel_matrix(a, b, "imq").item() == pytest.approx(6 / (6 + 5))  # C = 2 D = 6
    assert kernel_matrix(a, b, "rbf").item() == pytest.approx(math.exp(-5 / 9))  # exp(-|a-b|^2 / D^2)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_is_the_unbiased_estimate_computed_by_hand(kernel):
    z = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-0.5, 2.0]])
    p = torch.tensor([[0.2, -1.0], [0.0, 1.0], [1.5, 1.5]])

    def k(a, b):
        sq = sum((x - y) ** 2 for x, y in zip(a, b))
        return 4 / (4 + sq) if kernel == "imq" else math.exp(-sq / 4)

    zl, pl, m = z.tolist(), p.tolist(), 3
    by_hand = sum(k(zl[i], zl[j]) + k(pl[i], pl[j]) - k(zl[i], pl[j]) - k(zl[j], pl[i])
                  for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    assert mmd(z, p, kernel).item() == pytest.approx(by_hand, rel=1e-6)
    assert mmd(z, z, kernel).item() == pytest.approx(0.0, abs=1e-7)  # identical samples
    assert mmd(z[:1], p[:1], kernel).item() == 0.0  # no pair to compare


def test_mmd_of_samples_of_the_same_distribution_is_zero_on_average_and_of_different_ones_is_not():
    g = gen(3)
    same = torch.stack([mmd(torch.randn(64, 4, generator=g), torch.randn(64, 4, generator=g)) for _ in range(200)])
    # unbiased: batches scatter around 0, some below (estimator noise, not clipped)
    assert abs(same.mean().item()) < 3 * same.std().item() / math.sqrt(len(same))
    assert (same < 0).any()
    shifted = mmd(torch.randn(64, 4, generator=g) + 1.0, torch.randn(64, 4, generator=g))
    assert shifted.item() > same.max().item()


def test_infovae_loss_is_the_elbo_plus_the_weighted_mmd_with_prior_draws_from_the_run_generator():
    obj, model = objective_for("infovae", {"mmd_weight": 50.0, "kernel": "rbf"}, gamma=2.0)
    x = tiny_batch()
    global_state = torch.random.get_rng_state()
    terms = obj.loss(model, x, None, 0.5, gen())
    assert torch.equal(torch.random.get_rng_state(), global_state)  # torch's global generator untouched
    g = gen()  # replay the draws: the codes' noise, then the prior sample
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + torch.randn(mu.shape, generator=g) * torch.exp(0.5 * logvar)
        prior = torch.randn(z.shape, generator=g)
        ref = vae_loss(model.decode(z), x, mu, logvar, beta=0.5, gamma=2.0)
    assert terms.extras["mmd"].item() == pytest.approx(mmd(z, prior, "rbf").item(), rel=1e-5)
    assert terms.total.item() == pytest.approx(ref.total.item() + 50.0 * terms.extras["mmd"].item(), rel=1e-5)
    assert terms.recon.item() == pytest.approx(ref.recon.item(), rel=1e-5)


def test_infovae_needs_two_images_per_batch():
    with pytest.raises(ConfigError, match="batch size of at least 2"):
        RunConfig(model=ModelConfig(kind="infovae"), train=TrainConfig(batch_size=1)).validate()


# ------------------------------------------------------------------------------------------------ capacity


def test_capacity_rises_linearly_then_holds():
    assert [capacity_at(s, 20.0, 100) for s in (0, 25, 50, 100, 150)] == [0.0, 5.0, 10.0, 20.0, 20.0]
    assert capacity_at(0, 20.0, 0) == 20.0  # no ramp: the maximum from the start


def test_capacity_loss_is_the_weighted_distance_of_the_kl_to_the_target_by_hand():
    # 8 images in batches of 3: 3 steps per epoch, the ramp over 2 epochs is 6 steps
    obj, model = objective_for("capacity-vae", {"capacity_max": 12.0, "capacity_epochs": 2.0,
                                                "capacity_weight": 10.0}, gamma=0.5, batch=3)
    obj.steps_done = 2
    x = tiny_batch()
    terms = obj.loss(model, x, None, 123.0, gen())  # the run's beta plays no part
    with torch.no_grad():
        logits, mu, logvar = model(x, None, gen())
        rec = recon_per_sample(logits, x).mean().item()
        kl = kl_per_dim(mu, logvar).sum(1).mean().item()
    assert terms.extras["capacity"].item() == pytest.approx(4.0)  # 12 * 2 / 6
    assert terms.total.item() == pytest.approx(0.5 * rec + 10.0 * abs(kl - 4.0), rel=1e-5)


def capacity_run(epochs=3, **train):
    cfg = RunConfig(model=ModelConfig(kind="capacity-vae", latent_dim=2, hidden=[16],
                                      settings={"capacity_max": 6.0, "capacity_epochs": 2.0, "capacity_weight": 5.0}),
                    train=TrainConfig(epochs=epochs, batch_size=100, **train))
    return cfg


def test_the_capacity_follows_the_run_s_steps_through_a_pause_and_a_retrain_from_its_config(tmp_path):
    data = toy_data(n=300, size=8)  # 270 training images: 3 steps per epoch, the ramp is 6 steps
    control = TrainControl()
    trainer = Trainer(capacity_run(), data, control=control, log_every=1)
    for _ in trainer.iter_train():
        if len(trainer.history.steps) == 4 and not control.paused:
            control.pause()  # the loop blocks before step 5 until another thread resumes it
            threading.Timer(0.05, control.resume).start()
    history = trainer.history
    assert history.status == "finished"
    i_cap = history.columns.index("capacity") + 1
    for row in history.steps:  # step s (1-based) is trained after s - 1 steps
        assert row[i_cap] == pytest.approx(capacity_at(row[0] - 1, 6.0, 6))
        assert row[1] == pytest.approx(row[2] + 5.0 * abs(row[3] - row[i_cap]), rel=1e-5)
    assert history.epochs[0]["test_capacity"] == pytest.approx(3.0)  # after 3 of the 6 ramp steps
    assert history.epochs[-1]["test_capacity"] == pytest.approx(6.0)
    assert Trainer(capacity_run(), data).train().steps == history.steps  # the pause changed nothing
    save_run(Run(trainer.config, trainer.model, history, data.class_names, "c"), tmp_path / "c")
    again = Trainer(copy.deepcopy(load_run(tmp_path / "c").config), data)
    assert again.train().steps == history.steps  # retrained from its config: C starts from 0 again


# ---------------------------------------------------------------------------------------------------- IWAE


def log_weights_by_hand(model, x, eps, y=None):
    """log p(x|z) + log p(z) - log q(z|x) for the codes of noise ``eps`` (K, B, D): (K, B)."""
    mu, logvar = model.encode(x, y)
    z = mu + eps * torch.exp(0.5 * logvar)
    log_px = torch.stack([-recon_per_sample(model.decode(zk, y), x) for zk in z])
    log_pz = -0.5 * (math.log(2 * math.pi) + z.square()).sum(-1)
    log_qz = -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).square() / logvar.exp()).sum(-1)
    return log_px + log_pz - log_qz


def test_iwae_with_one_sample_is_the_single_sample_elbo_and_the_elbo_on_average():
    obj, model = objective_for("iwae", {"iw_samples": 1})
    x = tiny_batch()
    global_state = torch.random.get_rng_state()
    terms = obj.loss(model, x, None, 1.0, gen())
    assert torch.equal(torch.random.get_rng_state(), global_state)  # torch's global generator untouched
    eps = torch.randn((1, 3, 2), generator=gen())
    with torch.no_grad():
        assert terms.total.item() == pytest.approx(-log_weights_by_hand(model, x, eps).mean().item(), rel=1e-5)
        mu, logvar = model.encode(x)
    assert terms.kl.item() == pytest.approx(kl_per_dim(mu, logvar).sum(1).mean().item(), rel=1e-6)
    # on average over many draws, -L_1 = E[recon] + the analytic KL: the negative ELBO
    many = x.repeat(2000, 1, 1, 1)
    with torch.no_grad():
        rec, log_ratio, _, _ = log_weight_parts(model, many, None, 1, gen(11), "bce")
        terms = obj.loss(model, many, None, 1.0, gen(11))
    assert terms.total.item() == pytest.approx((rec + log_ratio).mean().item(), rel=1e-6)
    stderr = log_ratio.std().item() / math.sqrt(log_ratio.numel())
    assert terms.total.item() - terms.recon.item() == pytest.approx(terms.kl.item(), abs=4 * stderr)


def test_the_iwae_bound_is_at_least_the_elbo_on_average_and_tightens_with_k():
    x = tiny_batch(n=6).repeat(100, 1, 1, 1)  # each image 100 times: the mean is the bound's expectation
    means = {}
    for k in (1, 5, 50):
        obj, model = objective_for("iwae", {"iw_samples": k})
        with torch.no_grad():
            means[k] = obj.loss(model, x, None, 1.0, gen(5)).extras["neg_iwae_bound"].item()
    assert means[50] < means[5] < means[1]  # -L_50 <= -L_5 <= -L_1 = -ELBO


@pytest.mark.parametrize("conditional", [False, True])
def test_iwae_bound_with_k_samples_is_the_log_mean_exp_of_the_weights_by_hand(conditional):
    obj, model = objective_for("iwae", {"iw_samples": 4}, conditional=conditional)
    x = tiny_batch()
    y = torch.tensor([2, 0, 1]) if conditional else None  # each image's K codes decoded with its own label
    terms = obj.loss(model, x, y, 1.0, gen())
    eps = torch.randn((4, 3, 2), generator=gen())
    with torch.no_grad():
        lw = log_weights_by_hand(model, x, eps, y).double()
    by_hand = -(lw.exp().mean(0).log()).mean().item()
    assert terms.total.item() == pytest.approx(by_hand, rel=1e-5)
    assert terms.extras["neg_iwae_bound"].item() == pytest.approx(by_hand, rel=1e-5)


def test_iwae_gradient_is_the_normalised_weights_times_each_sample_s_gradient():
    """Brute force: one backward pass per sample k and image b, weighted by w_bk / sum_k w_bk, against the
    gradient of the objective's log-mean-exp."""
    k, b = 3, 2
    obj, model = objective_for("iwae", {"iw_samples": k})
    model = model.double()
    x = tiny_batch(n=b).double()
    params = list(model.parameters())
    loss = obj.loss(model, x, None, 1.0, gen()).total
    grads = torch.autograd.grad(loss, params)
    eps = torch.randn((k, b, 2), generator=gen()).double()
    with torch.no_grad():
        w = torch.softmax(log_weights_by_hand(model, x, eps), dim=0)  # normalised importance weights (K, B)
    brute = [torch.zeros_like(p) for p in params]
    for j in range(k):
        for i in range(b):
            lw = log_weights_by_hand(model, x[i:i + 1], eps[j:j + 1, i:i + 1])[0, 0]
            for acc, g in zip(brute, torch.autograd.grad(lw, params)):
                acc -= w[j, i] * g / b  # the loss is minus the mean over images
    for g, ref in zip(grads, brute):
        assert torch.allclose(g, ref, rtol=1e-6, atol=1e-9)
    # and against finite differences of the loss on a few weights (the same noise each time)
    p = params[0]
    with torch.no_grad():
        for idx in [(0, 0), (1, 3), (4, 15)]:
            h = 1e-6
            p[idx] += h
            up = obj.loss(model, x, None, 1.0, gen()).total.item()
            p[idx] -= 2 * h
            down = obj.loss(model, x, None, 1.0, gen()).total.item()
            p[idx] += h
            assert grads[0][idx].item() == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-7)


# ------------------------------------------------------------------------------------------------ training

SETTINGS = {"infovae": {"mmd_weight": 100.0}, "capacity-vae": {"capacity_max": 5.0, "capacity_epochs": 1.0},
            "iwae": {"iw_samples": 3}}
OWN_TERM = {"infovae": "mmd", "capacity-vae": "capacity", "iwae": "neg_iwae_bound"}


@pytest.mark.parametrize("kind", ["infovae", "capacity-vae", "iwae"])
@pytest.mark.parametrize("arch,recon,conditional", [("mlp", "bce", False), ("conv", "mse", False),
                                                   ("mlp", "mse", True), ("conv", "bce", True)])
def test_each_variant_trains_saves_and_reopens(kind, arch, recon, conditional, tmp_path):
    data = toy_data(n=120, size=8)
    cfg = RunConfig(model=ModelConfig(kind=kind, arch=arch, latent_dim=2, hidden=[8], conditional=conditional,
                                      settings=SETTINGS[kind]),
                    train=TrainConfig(epochs=1, batch_size=40, recon=recon))
    trainer = Trainer(cfg, data)
    history = trainer.train()
    term = OWN_TERM[kind]
    assert history.status == "finished" and history.columns == ["total", "recon", "kl", term]
    assert all(math.isfinite(v) for row in history.steps for v in row)
    assert math.isfinite(history.last[f"test_{term}"])
    save_run(Run(cfg, trainer.model, history, data.class_names, kind), tmp_path / "r")
    back = load_run(tmp_path / "r")
    assert back.config.model.kind == kind and back.config.model.settings == cfg.model.settings
    assert back.model.conditional == conditional and back.history.steps == history.steps
    for a, b in zip(back.model.state_dict().values(), trainer.model.state_dict().values()):
        assert torch.equal(a, b)
    obj = get_variant(kind).make_objective(back.config, len(data.train_x), "cpu")
    obj.steps_done = history.last["step"]
    own = obj.evaluate(back.model, data.test_x, data.test_y, back.config.train.beta, seed=back.config.train.seed)
    assert own[term] == pytest.approx(history.last[f"test_{term}"], rel=1e-5)  # same weights, same noise
