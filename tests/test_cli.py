"""The headless command line: the same engine, one-line errors, non-zero exits."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vae_studio.cli import main


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
    png = tmp_path / "s.png"
    assert main(["sample", str(out), "--n", "16", "--out", str(png)]) == 0
    with Image.open(png) as im:
        assert im.size == (4 * 16 + 5 * 2, 4 * 16 + 5 * 2)  # 4x4 grid of 16 px images, 2 px padding


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
