"""RunConfig.validate(): the one check the CLI, the GUI and run folders share."""
import itertools

import pytest

from vae_studio.core.config import ConfigError, ModelConfig, RunConfig, parameter_count
from vae_studio.core.models import build_model, count_parameters


def test_parameter_count_is_exact_for_every_model_shape_without_building_it():
    for kind, arch, hidden, size, ch, lat in itertools.product(
            ["vae", "cvae"], ["mlp", "conv"], [[7], [16, 5], [3, 4, 9]], [8, 12, 32], [1, 3], [1, 4]):
        m = ModelConfig(kind=kind, arch=arch, hidden=hidden, image_size=size, channels=ch, latent_dim=lat,
                        num_classes=3 if kind == "cvae" else 0)
        assert parameter_count(m) == count_parameters(build_model(m)), m


def _config(**changes) -> RunConfig:
    c = RunConfig()
    for dotted, value in changes.items():
        section, name = dotted.split("__")
        setattr(getattr(c, section), name, value)
    return c


@pytest.mark.parametrize("changes, message", [
    ({"train__beta": float("nan")}, "beta must be a finite"),
    ({"train__gamma": float("inf")}, "gamma must be a finite"),
    ({"train__lr": float("inf")}, "learning rate"),
    ({"train__grad_clip": float("nan")}, "gradient clipping"),
    ({"train__grad_clip": -1.0}, "gradient clipping"),
    ({"train__seed": -1}, "train.seed"),
    ({"train__seed": 2**64}, "train.seed"),
    ({"data__seed": 2**63}, "data.seed"),
    ({"model__latent_dim": "4"}, "model.latent_dim must be a whole number"),
    ({"model__hidden": 32}, "model.hidden must be a list"),
    ({"model__hidden": [True]}, "model.hidden must be a list"),
    ({"train__beta": "1"}, "train.beta must be a number"),
    ({"data__grayscale": 1}, "data.grayscale must be true or false"),
    ({"train__lr": 10**400}, "learning rate"),
    ({"model__hidden": [10**9]}, r"would have .* parameters \(.*of weights"),
    ({"model__hidden": [10**500]}, r"about 10\^"),
    ({"model__image_size": 10**9}, "would have"),
    ({"model__kind": "cvae", "model__num_classes": 10**11}, "would have"),
    ({"data__image_size": 10**9}, "image size must be between"),
])
def test_bad_settings_are_refused_with_one_line_naming_them(changes, message):
    with pytest.raises(ConfigError, match=message) as e:
        _config(**changes).validate()
    assert "\n" not in str(e.value) and len(str(e.value)) < 400


def test_large_but_reasonable_models_pass():
    _config(model__hidden=[2048, 2048, 2048, 2048]).validate()
    _config(train__seed=2**63 - 1, train__grad_clip=0.0, train__beta=0.0).validate()
