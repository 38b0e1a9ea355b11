"""`vae-studio export RUN --format onnx --out DIR`: files that onnxruntime runs; one-line errors."""
import json

import numpy as np
import pytest
import torch

from vae_studio.cli import main
from vae_studio.core.checkpoint import load_run

from .test_cli import npz, train_args  # noqa: F401

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_export_writes_onnx_that_decodes_as_the_run_does(npz, tmp_path, capsys):
    run_dir, out = tmp_path / "run", tmp_path / "exported"
    assert main(train_args(npz, run_dir, "--model", "cvae", "--epochs", "1")) == 0
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out)]) == 0
    assert "encoder.onnx" in capsys.readouterr().out
    desc = json.loads((out / "latent_space.json").read_text())
    assert desc["latent_dim"] == 3 and desc["conditional"] and desc["num_classes"] == 3
    run = load_run(run_dir)
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0])
    dec = ort.InferenceSession(str(out / "decoder.onnx"), providers=["CPUExecutionProvider"])
    got = dec.run(["image"], {"z": z, "label": y})[0]
    with torch.no_grad():
        want = torch.sigmoid(run.model.decode(torch.from_numpy(z), torch.from_numpy(y))).numpy()
    assert np.abs(got - want).max() < 1e-4
    # a second export into the same folder asks for --overwrite, in one line
    assert main(["export", str(run_dir), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err
    assert main(["export", str(run_dir), "--out", str(out), "--overwrite"]) == 0


def test_export_of_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:")
    assert main(["export", str(tmp_path), "--format", "tflite", "--out", "o"]) == 2
