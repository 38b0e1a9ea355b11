"""The model interface the panels ask: each latent kind encodes to explorer coordinates, decodes them and
samples its prior; a VQ-VAE samples only after its code prior is fitted (CLI fit-prior), which the run folder
keeps as an optional, strictly checked file; the metrics that apply to each kind."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from vae_studio.core.checkpoint import PRIOR_FILE, CheckpointError, Run, load_run, save_run
from vae_studio.core.code_prior import CodePrior, fit_code_prior
from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_studio.core.latent import decode, encode_dataset, sample_prior
from vae_studio.core.latent_space import NoPrior, fixed_top_rows, space_for
from vae_studio.core.metrics import evaluate_elbo, evaluate_run, iwae_nll
from vae_studio.core.training import Trainer

from .helpers import toy_data

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def data():
    return toy_data(n=300)


@pytest.fixture(scope="module")
def vq_run(data):
    cfg = RunConfig(data=DataConfig(dataset="toy"),
                    model=ModelConfig(kind="vq-vae", arch="conv", settings={"codebook_size": 16, "code_dim": 4,
                                                                             "restart_after": 2}),
                    train=TrainConfig(epochs=2, batch_size=64))
    trainer = Trainer(cfg, data)
    return Run(cfg, trainer.model, trainer.train(), name="vq")


@pytest.fixture(scope="module")
def hvae_run(data):
    cfg = RunConfig(data=DataConfig(dataset="toy"), model=ModelConfig(kind="hvae", latent_dim=3, hidden=[32],
                                                                       settings={"top_dim": 2}),
                    train=TrainConfig(epochs=3, batch_size=32))
    trainer = Trainer(cfg, data)
    return Run(cfg, trainer.model, trainer.train(), name="h")


def fitted_prior(model, data):
    events = list(fit_code_prior(model, data, epochs=1, batch_size=64, seed=3))
    assert events[0].epoch == 1 and events[0].test_bits_per_code > 0
    assert isinstance(events[-1], CodePrior)
    return events[-1]


def test_a_vq_vae_cannot_sample_until_its_prior_is_fitted_then_samples_reproducibly_at_a_temperature(vq_run, data):
    model = vq_run.model
    model.attach_prior(None)
    with pytest.raises(NoPrior, match="fit-prior"):
        sample_prior(model, 4)
    model.attach_prior(fitted_prior(model, data))
    try:
        a, b = sample_prior(model, 6, 1.0, seed=1), sample_prior(model, 6, 1.0, seed=1)
        assert a.shape == (6, 1, 16, 16) and torch.equal(a, b)
        assert not torch.equal(a, sample_prior(model, 6, 1.0, seed=2))
        space = space_for(model)
        codes = model.code_prior.sample(50, 0.05, torch.Generator().manual_seed(0))
        # at a low temperature the prior picks its most likely code at each cell: samples agree
        assert (codes == codes.mode(0).values).float().mean() > 0.9
        assert space.prior_latents(2, 0.5, 0).shape == (2, space.dim)
    finally:
        model.attach_prior(None)


def test_vq_coordinates_are_the_continuous_encoder_output_and_decode_through_the_nearest_codes(vq_run, data):
    model, space = vq_run.model, space_for(vq_run.model)
    enc = encode_dataset(model, data.test_x[:5])
    assert enc.mu.shape == (5, space.dim) == (5, 4 * 4 * 4)
    x = data.test_x[:5].float() / 255
    expected = torch.sigmoid(model.decode_codes(model.codes(x)))
    assert torch.allclose(decode(model, enc.mu), expected, atol=1e-6)
    # swapping one cell's code changes the decoded image there
    codes = model.codes(x[:1])
    other = codes.clone()
    other[0, 0, 0] = (codes[0, 0, 0] + 1) % model.num_codes
    moved = decode(model, space.codes_to_latents(other)) - decode(model, space.codes_to_latents(codes))
    assert moved.abs().sum() > 0 or torch.equal(model.quantizer.codebook[codes[0, 0, 0]],
                                                 model.quantizer.codebook[other[0, 0, 0]])


def test_the_prior_is_saved_as_an_optional_file_listed_in_the_manifest_and_checked_strictly(vq_run, data, tmp_path):
    prior = fitted_prior(vq_run.model, data)
    folder = save_run(Run(vq_run.config, vq_run.model, vq_run.history, name="vq", code_prior=prior), tmp_path / "vq")
    assert PRIOR_FILE in json.loads((folder / "manifest.json").read_text())["files"]
    run = load_run(folder)
    assert torch.equal(sample_prior(run.model, 3, seed=4), sample_prior(_with(vq_run.model, prior), 3, seed=4))
    vq_run.model.attach_prior(None)
    # a prior whose shape does not fit the run's codebook is refused, naming the file
    from safetensors.torch import load as st_load, save as st_save

    raw = (folder / PRIOR_FILE).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + header_len])["__metadata__"]
    shape = json.loads(meta["prior"])
    shape["num_codes"] = 99
    bad = st_save(st_load(raw), metadata={**meta, "prior": json.dumps(shape)})
    saved = load_run(folder)
    saved.code_prior = None
    folder2 = save_run(saved, tmp_path / "vq2")
    (folder2 / PRIOR_FILE).write_bytes(bad)
    manifest = json.loads((folder2 / "manifest.json").read_text())
    import hashlib

    manifest["files"][PRIOR_FILE] = {"bytes": len(bad), "sha256": hashlib.sha256(bad).hexdigest()}
    (folder2 / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="code_prior.safetensors.*16 codes"):
        load_run(folder2)


def _with(model, prior):
    model.attach_prior(prior)
    return model


def test_vq_metrics_report_reconstruction_perplexity_usage_and_the_priors_nll_but_no_elbo(vq_run, data):
    vq_run.model.attach_prior(None)
    res = evaluate_run(vq_run.model, data, recon="bce", beta=1.0, gamma=1.0)
    assert res["neg_elbo"] is None and res["iwae_nll"] is None and res["prior_nll"] is None
    assert 1 <= res["perplexity"] <= res["codes_in_use"] <= 16 and res["recon"] > 0
    vq_run.model.attach_prior(fitted_prior(vq_run.model, data))
    try:
        res = evaluate_run(vq_run.model, data, recon="bce", beta=1.0, gamma=1.0)
        cells = vq_run.model.grid ** 2
        assert res["prior_nll"] > 0
        assert res["prior_bits_per_code"] == pytest.approx(res["prior_nll"] / (cells * np.log(2)))
    finally:
        vq_run.model.attach_prior(None)


def test_hvae_levels_encode_decode_and_sample_coarse_to_fine(hvae_run, data):
    model = hvae_run.model
    top, bottom = space_for(model), space_for(model, level=0)
    assert (top.dim, bottom.dim) == (2, 3) and top.dim == model.latent_dim
    z = encode_dataset(model, data.test_x[:4], space=bottom).mu
    assert z.shape == (4, 3)
    x = data.test_x[:4].float() / 255
    assert np.allclose(z, model.infer(x, sample=False)[0].mu.detach().numpy(), atol=1e-6)
    # the recorded KL per dimension splits by level (bottom first)
    kl = hvae_run.history.last["test_kl_per_dim"]
    assert top.coordinate_kl(kl) == kl[3:] and bottom.coordinate_kl(kl) == kl[:3]
    # the top level decoded with the lower level held at its mean is deterministic; resampled it varies
    zt = torch.zeros(1, 2)
    assert torch.equal(decode(model, zt, space=top), decode(model, zt, space=top))
    held = decode(model, zt.repeat(2, 1), space=top)
    varied = decode(model, zt.repeat(2, 1), space=space_for(model, resample_lower=True, seed=1))
    assert torch.equal(held[0], held[1]) and not torch.equal(varied[0], varied[1])
    rows = fixed_top_rows(model, 2, 3, seed=0)
    assert rows.shape == (6, 1, 16, 16) and torch.equal(rows, fixed_top_rows(model, 2, 3, seed=0))
    assert sample_prior(model, 5, seed=0).shape == (5, 1, 16, 16)


def test_hvae_metrics_give_the_iwae_bound_below_the_elbo_and_active_units_per_level(hvae_run, data):
    model = hvae_run.model
    elbo = evaluate_elbo(model, data.test_x)["neg_elbo"]
    assert iwae_nll(model, data.test_x, k=30)["iwae_nll"] < elbo
    res = evaluate_run(model, data, recon="bce", beta=1.0, gamma=1.0, iwae_k=5)
    assert len(res["active_units_per_level"]) == 2 and res["level_dims"] == [3, 2]
    assert len(res["kl_per_dim"]) == 5


def test_cli_fit_prior_then_sample(vq_run, tmp_path):
    np.savez(tmp_path / "toy.npz", x=toy_data(n=300).train_x[:, 0].numpy())
    cfg = RunConfig(data=DataConfig(dataset="npz", root=str(tmp_path / "toy.npz")), model=vq_run.config.model,
                    train=vq_run.config.train)
    vq_run.model.attach_prior(None)
    folder = save_run(Run(cfg, vq_run.model, vq_run.history, name="vq"), tmp_path / "run")
    env = dict(os.environ, PYTHONPATH=ROOT)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "vae_studio", *args], env=env, capture_output=True, text=True,
                              cwd=ROOT, timeout=300)

    r = cli("sample", str(folder), "--out", str(tmp_path / "s.png"))
    assert r.returncode == 1 and "no prior yet" in r.stderr and "Traceback" not in r.stderr
    r = cli("fit-prior", str(folder), "--epochs", "1")
    assert r.returncode == 0 and "bits per code" in r.stdout, r.stderr
    r = cli("sample", str(folder), "--out", str(tmp_path / "s.png"), "--n", "4", "--temperature", "0.7")
    assert r.returncode == 0 and (tmp_path / "s.png").exists(), r.stderr
    assert load_run(folder).code_prior is not None
