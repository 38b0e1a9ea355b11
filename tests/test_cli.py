"""The headless command line: the same engine, one-line errors, non-zero exits."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vae_studio.cli import build_parser, main
from vae_studio.core.variants import VARIANTS


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    x = np.zeros((300, 16, 16), np.uint8)
    for i in range(300):
        c = 3 + i % 10
        x[i, 5:11, c:c + 4] = 255
    y = np.arange(300) % 3
    path = tmp_path / "toy.npz"
    np.savez(path, x=x, y=y)
    del rng
    return path


def train_args(npz, out, *extra):
    return ["train", "--dataset", "npz", "--data-root", str(npz), "--hidden", "32", "--latent-dim", "3",
            "--epochs", "2", "--batch-size", "32", "--out", str(out), *extra]


def test_train_eval_sample_round_trip(npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(npz, out, "--beta", "2")) == 0
    assert {"config.json", "model.safetensors", "history.json"} <= {p.name for p in out.iterdir()}
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["neg_elbo"] == pytest.approx(res["recon"] + res["kl"])
    assert len(res["kl_per_dim"]) == 3
    hist = json.loads((out / "history.json").read_text())
    assert hist["epochs"][-1]["test_neg_elbo"] == pytest.approx(res["neg_elbo"], rel=1e-5)
    assert res["objective"] == "vae" and res["objective_terms"] == []
    assert res["objective_total"] == pytest.approx(res["total"], rel=1e-5)  # the VAE trains on its total
    png = tmp_path / "s.png"
    assert main(["sample", str(out), "--n", "16", "--out", str(png)]) == 0
    with Image.open(png) as im:
        assert im.size == (4 * 16 + 5 * 2, 4 * 16 + 5 * 2)  # 4x4 grid of 16 px images, 2 px padding


def test_eval_reports_the_objective_s_own_terms_at_the_run_s_last_step(npz, tmp_path, capsys):
    out = tmp_path / "cap"
    # capacity-vae's defaults: C rises to 25 nats over 10 epochs; after 2 of them C is 5
    assert main(train_args(npz, out, "--model", "capacity-vae")) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json", "--iwae-k", "0"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["objective"] == "capacity-vae" and res["objective_terms"] == ["capacity"]
    assert res["capacity"] == pytest.approx(5.0)
    assert res["objective_total"] == pytest.approx(res["recon"] + 1000 * abs(res["kl"] - 5.0), rel=1e-4)
    assert main(["eval", str(out), "--iwae-k", "0"]) == 0
    assert "capacity-vae's objective, capacity 5" in capsys.readouterr().out


def test_conditional_sampling_needs_a_valid_class(npz, tmp_path, capsys):
    out = tmp_path / "cvae"
    assert main(train_args(npz, out, "--model", "cvae", "--epochs", "1")) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "--n", "4", "--label", "7", "--out", str(tmp_path / "a.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "class 7" in err and "\n" not in err


@pytest.mark.parametrize("args,needle", [
    (["train", "--out", "x", "--epochs", "zero"], "invalid int value"),
    (["train", "--out", "x", "--arch", "transformer"], "invalid choice"),
    (["train"], "--out"),
    (["frobnicate"], "invalid choice"),
    (["eval"], "run"),
])
def test_bad_flags_give_one_line_and_exit_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert len(err.splitlines()) == 1


def test_bad_input_gives_one_line_and_exit_1(npz, tmp_path, capsys):
    cases = [
        (["eval", str(tmp_path / "missing")], "does not exist"),
        (["train", "--dataset", "mnist", "--data-root", str(tmp_path), "--out", str(tmp_path / "r")], str(tmp_path)),
        (train_args(npz, tmp_path / "r2", "--device", "cuda:7"), "cuda:7"),
        (train_args(npz, tmp_path / "r3", "--lr", "-1"), "learning rate"),
        (["sample", str(npz), "--out", str(tmp_path / "x.png")], "not a VAE Studio run"),
    ]
    for args, needle in cases:
        assert main(args) == 1, args
        err = capsys.readouterr().err.strip()
        assert needle in err, (args, err)
        assert len(err.splitlines()) == 1, err


def test_datasets_lists_the_registry(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("sprites")
    assert "fashion-mnist" in out


def test_entry_point_runs_as_a_module(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vae_studio", "train", "--out", "x", "--bogus"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert "unrecognized arguments" in r.stderr and "Traceback" not in r.stderr


def test_train_from_a_run_folder_replays_its_live_changes(npz, tmp_path, capsys):
    """A run whose beta and learning rate were changed while it trained, saved; `train --config FOLDER`
    trains the same run again: same changes at the same steps, same weights."""
    import torch

    from tests.core.test_live_changes import train_with_live_change
    from vae_studio.core.checkpoint import Run, load_run, save_run
    from vae_studio.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vae_studio.core.data import load_dataset

    config = RunConfig(data=DataConfig(dataset="npz", root=str(npz)), model=ModelConfig(latent_dim=3, hidden=[32]),
                       train=TrainConfig(epochs=2, batch_size=32))
    data = load_dataset(config.data)
    live = train_with_live_change(config, data, 5, beta=2.5, lr=2e-3)  # 9 steps an epoch
    folder = save_run(Run(config=live.config, model=live.model, history=live.history, class_names=data.class_names),
                      tmp_path / "live")
    assert main(["train", "--config", str(folder), "--out", str(tmp_path / "again")]) == 0
    again = load_run(tmp_path / "again")
    assert again.config.train.schedule == [[5, 2.5, 2e-3]] and again.config.train.beta == 1.0
    assert again.history.changes == live.history.changes == [{"step": 5, "epoch": 1, "beta": 2.5, "lr": 2e-3}]
    a, b = live.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # its config.json alone does the same; setting flags beside --config are refused in one line
    assert main(["train", "--config", str(folder / "config.json"), "--out", str(tmp_path / "third")]) == 0
    assert load_run(tmp_path / "third").history.changes == live.history.changes
    capsys.readouterr()
    assert main(["train", "--config", str(folder), "--beta", "3", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip()
    assert "--beta" in err and "\n" not in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"schedule": [[5, 1.0, -1.0]]}}))
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "y")]) == 1
    err = capsys.readouterr().err.strip()
    assert "schedule[0]" in err and "learning rate" in err and "\n" not in err


# -- the model variants: --model, --conditional and one flag per variant setting, from the declarations
def test_every_setting_of_every_variant_has_one_flag_listing_its_variants(toy_variants, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # argparse wraps help lines at this width
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--model {" + ",".join(VARIANTS) + "}" in text
    for flag in ("--conditional", "--kl-scale", "--repeats", "--mode {plain,squared}", "--kl-weight"):
        assert flag in text
    assert "scale of the reported KL (λ in the paper); used by scaled-kl; default 0.5" in text
    # a setting two variants share is one flag; its help gives each one's symbol and default
    assert ("how often the KL is counted (R for scaled-kl, N for free-kl in the papers); used by scaled-kl, "
            "free-kl; default scaled-kl: 2, free-kl: 3") in text
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
    (["--model", "free-kl", "--kl-scale", "2"],
     "--kl-scale does not apply to free-kl (its settings: --kl-weight, --repeats)"),
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


def test_a_shared_setting_flag_goes_to_whichever_variant_is_trained(npz, tmp_path, toy_variants):
    out = tmp_path / "free"
    assert main(train_args(npz, out, "--model", "free-kl", "--repeats", "7", "--epochs", "1")) == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["model"]["settings"] == {"kl_weight": 0.25, "repeats": 7}


def test_a_model_with_its_own_kl_warm_up_gets_it_unless_the_flag_says_otherwise():
    from vae_studio.cli import build_parser
    from vae_studio.cli.common import config_from_args

    def warmup(*flags):
        return config_from_args(build_parser().parse_args(["train", "--out", "x", *flags])).train.kl_warmup_epochs

    assert warmup() == 0 and warmup("--model", "hvae") == 2
    assert warmup("--model", "hvae", "--kl-warmup", "0") == 0 and warmup("--kl-warmup", "3") == 3
