"""The model variants on the command line: `--model`, `--conditional` and one flag per variant setting, all
generated from the declarations (test variants registered by ``toy_variants``)."""
import json

import pytest

from vae_studio.cli import build_parser, main
from vae_studio.core.variants import VARIANTS

from .test_cli import npz, train_args  # noqa: F401 - the npz fixture
from .toy_variants import toy_variants  # noqa: F401 - fixture


def test_every_setting_of_every_variant_has_one_flag_listing_its_variants(toy_variants, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # argparse wraps help lines at this width
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--model {" + ",".join(VARIANTS) + "}" in text
    for flag in ("--conditional", "--kl-scale", "--repeats", "--mode {plain,squared}", "--kl-weight"):
        assert flag in text
    assert "scale of the reported KL (λ in the paper); used by scaled-kl; default 0.5" in text
    for variant in VARIANTS.values():  # the real variants' settings too, each with its flag
        for spec in variant.settings_specs():
            assert spec.flag in text and variant.name in text


def test_setting_flags_reach_the_run_folder_and_the_rest_take_their_defaults(npz, tmp_path, toy_variants):
    out = tmp_path / "run"
    assert main(train_args(npz, out, "--model", "scaled-kl", "--kl-scale", "2", "--mode", "squared",
                           "--conditional", "--epochs", "1")) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"]["kind"] == "scaled-kl" and config["model"]["conditional"] is True
    assert config["model"]["settings"] == {"kl_scale": 2.0, "repeats": 2, "mode": "squared"}
    history = json.loads((out / "history.json").read_text())
    assert history["columns"] == ["total", "recon", "kl", "scaled_kl", "counted_kl"]
    assert "test_scaled_kl" in history["epochs"][-1]


@pytest.mark.parametrize("extra,needle", [
    (["--model", "free-kl", "--kl-scale", "2"], "--kl-scale does not apply to free-kl (its settings: --kl-weight)"),
    (["--model", "vae", "--kl-weight", "1"], "--kl-weight does not apply to vae (it has no settings of its own)"),
    (["--model", "scaled-kl", "--kl-scale", "11"], "at most 10"),
    (["--model", "scaled-kl", "--repeats", "0"], "at least 1"),
    (["--model", "free-kl", "--conditional"], "free-kl cannot be trained as a conditional model"),
])
def test_a_setting_that_does_not_fit_the_variant_is_one_line_and_exit_1(npz, tmp_path, toy_variants, capsys,
                                                                        extra, needle):
    assert main(train_args(npz, tmp_path / "r", *extra)) == 1
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_bad_setting_values_are_usage_errors(npz, tmp_path, toy_variants, capsys):
    for extra, needle in ((["--repeats", "1.5"], "invalid int value"), (["--mode", "cubed"], "invalid choice")):
        assert main(train_args(npz, tmp_path / "r", "--model", "scaled-kl", *extra)) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1


def test_setting_flags_beside_config_are_refused(npz, tmp_path, toy_variants, capsys):
    folder = tmp_path / "first"
    assert main(train_args(npz, folder, "--model", "scaled-kl", "--epochs", "1")) == 0
    capsys.readouterr()
    for extra in (["--kl-scale", "3"], ["--conditional"]):
        assert main(["train", "--config", str(folder), *extra, "--out", str(tmp_path / "x")]) == 1
        err = capsys.readouterr().err.strip()
        assert f"leave out {extra[0]}" in err and len(err.splitlines()) == 1
