"""The beta sweep (core and `vae-studio sweep`) and `vae-studio eval --json`."""
import csv
import json

import numpy as np
import pytest

from vae_studio.cli import main
from vae_studio.core.config import ConfigError
from vae_studio.core.sweep import beta_label, parse_betas, results_markdown, run_folder


@pytest.fixture
def npz(tmp_path):
    x = np.zeros((200, 12, 12), np.uint8)
    for i in range(200):
        x[i, 3:9, 1 + i % 8:4 + i % 8] = 255
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x)
    return path


def tiny_flags(npz):
    return ["--dataset", "npz", "--data-root", str(npz), "--hidden", "16", "--latent-dim", "3", "--epochs", "1",
            "--batch-size", "50", "--iwae-k", "4"]


def test_parse_betas_and_labels():
    assert parse_betas("0.5, 1,4") == [0.5, 1.0, 4.0]
    assert [beta_label(b) for b in (0.5, 1.0, 8.0, 0.25)] == ["0.5", "1", "8", "0.25"]
    assert run_folder("out", 4.0).name == "beta-4"
    for bad in ("", "1,x", "-1", "1,1", "nan"):
        with pytest.raises(ConfigError):
            parse_betas(bad)


def test_sweep_writes_one_run_and_one_row_per_beta(npz, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--beta", "1,4", "--out", str(out), "--quiet", *tiny_flags(npz)]) == 0
    assert (out / "beta-1" / "config.json").exists() and (out / "beta-4" / "model.safetensors").exists()
    cfg = json.loads((out / "beta-4" / "config.json").read_text())["config"]
    assert cfg["train"]["beta"] == 4.0 and cfg["train"]["epochs"] == 1  # the other flags are kept
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["beta"]) for r in rows] == [1.0, 4.0]
    assert list(rows[0])[:7] == ["beta", "neg_elbo", "recon", "kl", "iwae_nll", "active_units", "mig"]
    assert "factorvae" not in rows[0]  # an npz file has no known factors
    for r in rows:
        assert float(r["neg_elbo"]) == pytest.approx(float(r["recon"]) + float(r["kl"]), rel=1e-6)
        assert float(r["iwae_nll"]) <= float(r["neg_elbo"]) + 0.5
        assert r["mig"] == ""
    md = (out / "results.md").read_text()
    assert md.count("\n| 1 |") + md.count("\n| 4 |") == 2 and "-ELBO (nats)" in md
    assert "results.csv" in capsys.readouterr().out


def test_sweep_refuses_bad_betas_and_existing_runs(npz, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", "--beta", "1,oops", "--out", str(out), *tiny_flags(npz)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "comma-separated" in err and len(err.splitlines()) == 1
    assert not out.exists()
    (out / "beta-2").mkdir(parents=True)
    (out / "beta-2" / "config.json").write_text("{}")
    assert main(["sweep", "--beta", "2", "--out", str(out), *tiny_flags(npz)]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert main(["sweep", "--out", str(out), *tiny_flags(npz)]) == 2  # --beta is required
    capsys.readouterr()


def test_markdown_marks_runs_that_did_not_finish():
    rows = [{"beta": 1.0, "neg_elbo": 90.0, "recon": 80.0, "kl": 10.0, "iwae_nll": None, "active_units": 3,
             "mig": 0.25, "status": "diverged", "iwae_note": "skipped: MSE"}]
    md = results_markdown(rows, ("beta", "neg_elbo", "recon", "kl", "iwae_nll", "active_units", "mig"))
    assert "| 1 (diverged) | 90.00 | 80.00 | 10.00 | n/a | 3 | 0.250 |" in md
    assert "IWAE: skipped: MSE" in md


def test_eval_json_has_every_metric(npz, tmp_path, capsys):
    out = tmp_path / "run"
    flags = [f for f in tiny_flags(npz) if f not in ("--iwae-k", "4")]
    assert main(["train", *flags, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json", "--iwae-k", "5"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("neg_elbo", "recon", "kl", "kl_per_dim", "iwae_nll", "iwae_k", "active_units", "mig", "factorvae"):
        assert key in res, key
    assert res["iwae_k"] == 5 and res["iwae_nll"] <= res["neg_elbo"] + 0.5
    assert main(["eval", str(out), "--iwae-k", "3"]) == 0
    text = capsys.readouterr().out
    assert "IWAE NLL" in text and "active units" in text
    assert main(["eval", str(out), "--iwae-k", "-1"]) == 1
    assert "--iwae-k" in capsys.readouterr().err


def test_eval_json_on_sprites_like_data_reports_disentanglement(tmp_path, capsys, monkeypatch):
    """A run on data with known factors gets MIG and the FactorVAE score from `eval --json`."""
    import vae_studio.core.data as data_mod
    from tests.core.test_metrics import factor_data

    monkeypatch.setattr(data_mod, "_load_sprites", lambda name, seed: factor_data())
    out = tmp_path / "run"
    assert main(["train", "--hidden", "16", "--latent-dim", "3", "--epochs", "1", "--batch-size", "50",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--json", "--iwae-k", "2"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert 0 <= res["mig"] <= 1 and 0 <= res["factorvae"] <= 1
    assert res["factor_names"] == ["x", "brightness"]


def test_sweep_over_seeds_writes_one_run_per_beta_and_seed(npz, tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["sweep", "--beta", "1", "--seeds", "3,5", "--out", str(out), "--quiet", *tiny_flags(npz)]) == 0
    capsys.readouterr()
    cfgs = [json.loads((out / f"beta-1-seed-{s}" / "config.json").read_text())["config"] for s in (3, 5)]
    assert [c["train"]["seed"] for c in cfgs] == [3, 5]
    assert cfgs[0]["data"] == cfgs[1]["data"]  # the same data and split: only the run's seed changes
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["beta"], r["seed"]) for r in rows] == [("1.0", "3"), ("1.0", "5")]
    assert rows[0]["neg_elbo"] != rows[1]["neg_elbo"]
    assert "seeds 3,5" in (out / "results.md").read_text()
    assert main(["sweep", "--beta", "1", "--seeds", "1,1", "--out", str(tmp_path / "x"), *tiny_flags(npz)]) == 1
    assert "--seeds" in capsys.readouterr().err
