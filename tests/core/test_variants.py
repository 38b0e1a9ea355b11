"""The variant interface: settings checked from their declaration, a variant's own loss terms logged every
step, averaged per epoch, evaluated on the test split and kept by the run folder."""
from dataclasses import dataclass

import pytest

from vae_studio.core.checkpoint import Run, load_run, save_run
from vae_studio.core.config import ConfigError, ModelConfig, RunConfig, TrainConfig, parameter_count
from vae_studio.core.models import build_model, count_parameters
from vae_studio.core.objectives.base import Objective
from vae_studio.core.training import Trainer
from vae_studio.core.variants import VARIANTS, Variant, get_variant, setting

from .helpers import toy_data


@dataclass
class HalfSettings:
    weight: float = setting(0.5, symbol="w", help="weight on half the KL", minimum=0.0, maximum=10.0)
    mode: str = setting("a", help="a mode", choices=("a", "b"))


class HalfKL(Objective):
    """The VAE's loss, reporting half its KL as an own term."""

    def loss(self, model, x, y, beta, generator, autocast=None):
        terms = super().loss(model, x, y, beta, generator)
        terms.extras["half_kl"] = self.settings.weight * terms.kl
        return terms


class HalfKLVariant(Variant):
    name = "half-kl"
    title = "Half KL (test)"
    description = "the VAE, reporting half its KL"
    Settings = HalfSettings
    terms = ("half_kl",)
    objective = f"{__name__}:HalfKL"


@pytest.fixture
def half_kl(monkeypatch):
    monkeypatch.setitem(VARIANTS, HalfKLVariant.name, HalfKLVariant)
    return HalfKLVariant


def test_settings_are_completed_with_defaults_and_checked_against_their_declaration(half_kl):
    cfg = RunConfig(model=ModelConfig(kind="half-kl", settings={"weight": 2}))
    assert cfg.validate().model.settings == {"weight": 2.0, "mode": "a"}
    for bad, words in (({"weight": -1}, "at least 0"), ({"weight": 11}, "at most 10"), ({"mode": "c"}, "one of a, b"),
                       ({"weight": "x"}, "finite number"), ({"nope": 1}, "no setting 'nope'")):
        with pytest.raises(ConfigError, match=words):
            RunConfig(model=ModelConfig(kind="half-kl", settings=bad)).validate()
    spec = {s.name: s for s in half_kl.settings_specs()}
    assert spec["weight"].flag == "--weight" and "w in the paper" in spec["weight"].describe()


def test_unknown_variants_and_settings_of_variants_without_any_are_refused():
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        RunConfig(model=ModelConfig(kind="nope")).validate()
    with pytest.raises(ConfigError, match="vae has no setting"):
        RunConfig(model=ModelConfig(kind="vae", settings={"tc_weight": 6})).validate()


def test_conditional_is_a_setting_of_the_model_and_always_true_for_the_cvae():
    assert ModelConfig(kind="cvae").is_conditional and ModelConfig(kind="vae", conditional=True).is_conditional
    assert not ModelConfig(kind="vae").is_conditional
    cfg = ModelConfig(kind="vae", conditional=True, num_classes=3, image_size=16)
    assert count_parameters(build_model(cfg, seed=0)) == parameter_count(cfg) == parameter_count(
        ModelConfig(kind="cvae", num_classes=3, image_size=16))


def test_a_variants_own_terms_are_logged_evaluated_and_kept_by_the_run_folder(half_kl, tmp_path):
    data = toy_data()
    cfg = RunConfig(model=ModelConfig(kind="half-kl", latent_dim=2, hidden=[32], settings={"weight": 0.5}),
                    train=TrainConfig(epochs=2, batch_size=64))
    trainer = Trainer(cfg, data)
    history = trainer.train()
    assert history.columns == ["total", "recon", "kl", "half_kl"]
    assert all(len(row) == 5 and row[4] == pytest.approx(row[3] / 2, rel=1e-5) for row in history.steps)
    last = history.last
    assert last["train_half_kl"] == pytest.approx(last["train_kl"] / 2, rel=1e-5)
    assert last["test_half_kl"] == pytest.approx(last["test_kl"] / 2, rel=0.05)  # other noise draws
    save_run(Run(cfg, trainer.model, history, data.class_names, "r"), tmp_path / "r")
    back = load_run(tmp_path / "r")
    assert back.history.columns == history.columns and back.history.steps == history.steps
    assert back.config.model.settings == {"weight": 0.5, "mode": "a"}
    assert get_variant(back.config.model.kind) is half_kl
