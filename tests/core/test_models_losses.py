import pytest
import torch
import torch.nn.functional as F

from vae_studio.core.config import ModelConfig
from vae_studio.core.losses import kl_per_dim, recon_per_sample, vae_loss
from vae_studio.core.models import build_model


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("kind", ["vae", "cvae"])
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (1, 64)])
def test_shapes_for_every_family(arch, kind, channels, size):
    cfg = ModelConfig(kind=kind, arch=arch, latent_dim=5, hidden=[32], image_size=size, channels=channels,
                      num_classes=4)
    m = build_model(cfg)
    x = torch.rand(3, channels, size, size)
    y = torch.tensor([0, 1, 3]) if kind == "cvae" else None
    logits, mu, logvar = m(x, y)
    assert logits.shape == x.shape
    assert mu.shape == logvar.shape == (3, 5)


def test_conditional_decoder_uses_the_class():
    m = build_model(ModelConfig(kind="cvae", latent_dim=3, hidden=[16], image_size=8, num_classes=3))
    z = torch.randn(1, 3)
    a = m.decode(z, torch.tensor([0]))
    b = m.decode(z, torch.tensor([2]))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="class labels"):
        m.decode(z)


def test_bce_with_logits_equals_documents_sigmoid_then_bce():
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 28, 28) * 3
    x = torch.rand(4, 1, 28, 28)
    ours = recon_per_sample(logits, x, "bce").sum()
    theirs = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")
    assert torch.allclose(ours, theirs, rtol=1e-4)


def test_mse_is_squared_error_of_the_sigmoid_mean_summed_over_pixels():
    logits = torch.zeros(2, 1, 4, 4)
    x = torch.ones(2, 1, 4, 4)
    assert torch.allclose(recon_per_sample(logits, x, "mse"), torch.full((2,), 16 * 0.25))


def test_kl_closed_form_matches_torch_distributions_and_sums_per_dim():
    torch.manual_seed(1)
    mu, logvar = torch.randn(5, 4), torch.randn(5, 4)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    assert torch.allclose(kl_per_dim(mu, logvar), torch.distributions.kl_divergence(q, p), atol=1e-5)
    terms = vae_loss(torch.zeros(5, 1, 2, 2), torch.rand(5, 1, 2, 2), mu, logvar, beta=4.0, gamma=2.0)
    assert torch.allclose(terms.kl_per_dim.sum(), terms.kl)
    assert torch.allclose(terms.total, 2.0 * terms.recon + 4.0 * terms.kl)


def test_loss_is_per_sample_whatever_the_batch_size():
    """beta means the same at every batch size: no hidden rescaling."""
    torch.manual_seed(2)
    logits, x = torch.randn(8, 1, 4, 4), torch.rand(8, 1, 4, 4)
    mu, lv = torch.randn(8, 3), torch.randn(8, 3)
    whole = vae_loss(logits, x, mu, lv, beta=3.0)
    half = vae_loss(logits[:4].repeat(2, 1, 1, 1), x[:4].repeat(2, 1, 1, 1), mu[:4].repeat(2, 1), lv[:4].repeat(2, 1),
                    beta=3.0)
    quarter = vae_loss(logits[:4], x[:4], mu[:4], lv[:4], beta=3.0)
    assert torch.allclose(half.total, quarter.total)
    assert whole.total.shape == ()


def test_extreme_logvar_is_clamped_so_the_loss_stays_finite():
    m = build_model(ModelConfig(latent_dim=2, hidden=[8], image_size=4))
    with torch.no_grad():
        m.to_stats.bias.fill_(1e4)
    logits, mu, logvar = m(torch.rand(2, 1, 4, 4))
    assert torch.isfinite(vae_loss(logits, torch.rand(2, 1, 4, 4), mu, logvar).total)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_a_seeded_model_starts_from_the_same_weights_without_the_global_generator(arch):
    cfg = ModelConfig(arch=arch, hidden=[48], latent_dim=5, image_size=16)
    state = torch.get_rng_state()
    a, b, c = build_model(cfg, seed=3), build_model(cfg, seed=3), build_model(cfg, seed=4)
    assert torch.equal(torch.get_rng_state(), state)  # no draw from (or reseed of) the global generator
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name
    # torch's default initialisation: weights and biases uniform in +-1/sqrt(fan_in), spread over that range
    for m in a.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
            bound = fan_in ** -0.5
            for p in (m.weight, m.bias):
                assert p.abs().max() <= bound
                if p.numel() >= 16:
                    assert p.abs().max() > 0.5 * bound


def test_reparameterisation_noise_comes_from_the_given_generator():
    model = build_model(ModelConfig(hidden=[16], latent_dim=3, image_size=8), seed=0)
    x = torch.rand(4, 1, 8, 8)
    out1 = model(x, generator=torch.Generator().manual_seed(9))[0]
    torch.randn(100)  # global draws in between change nothing
    out2 = model(x, generator=torch.Generator().manual_seed(9))[0]
    out3 = model(x, generator=torch.Generator().manual_seed(10))[0]
    assert torch.equal(out1, out2)
    assert not torch.equal(out1, out3)


def test_the_cpu_bce_gives_torchs_values_and_gradients_even_for_extreme_logits():
    from vae_studio.core.losses import bce_with_logits

    g = torch.Generator().manual_seed(0)
    logits = torch.cat([torch.randn(4, 196, generator=g) * 4,
                        torch.tensor([[-1e4, -100.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 100.0, 1e4] * 4]).view(4, 9)], 1)
    x = torch.rand(logits.shape, generator=g)
    x[:, -9:] = torch.tensor([0.0, 1.0, 0.5, 1.0, 0.5, 0.0, 1.0, 0.0, 1.0])
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    ours, torchs = bce_with_logits(a, x), F.binary_cross_entropy_with_logits(b, x, reduction="none")
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, torchs, rtol=1e-5, atol=2e-7)
    w = torch.rand(logits.shape, generator=g)  # an arbitrary upstream gradient
    (ours * w).sum().backward()
    (torchs * w).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)
