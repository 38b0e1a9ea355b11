"""Small runs of each latent kind for the GUI tests: a VQ-VAE (K = 8 codes of 2 dimensions on a 4 x 4 grid) and
a hierarchical VAE (levels of 3 and 2 dimensions), each trained one epoch on toy data."""
from tests.core.helpers import toy_data
from vae_studio.core.checkpoint import Run
from vae_studio.core.config import ModelConfig, RunConfig, TrainConfig
from vae_studio.core.training import Trainer

MODELS = {"vq": ModelConfig(kind="vq-vae", arch="conv", settings={"codebook_size": 8, "code_dim": 2}),
          "h": ModelConfig(kind="hvae", latent_dim=3, hidden=[32], settings={"top_dim": 2}),
          "vae": ModelConfig(kind="vae", latent_dim=3, hidden=[32])}


def small_runs(names=("vq", "h")):
    """(data, {name: Run}) for the kinds named in MODELS."""
    data = toy_data(n=300)
    out = {}
    for name in names:
        cfg = RunConfig(model=MODELS[name], train=TrainConfig(epochs=1, batch_size=64))
        t = Trainer(cfg, data)
        out[name] = Run(cfg, t.model, t.train(), name=name)
    return data, out


def fresh(run: Run) -> Run:
    """Another Run over the same (untouched) network, so that a test can attach things to it."""
    return Run(run.config, run.model, run.history, name=run.name)
