"""File ▸ Export model: the selected run's ONNX files, written in the background, run in onnxruntime."""
import json

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QFileDialog

from .helpers import action, small_data, trained_run

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def test_file_export_model_writes_onnx_that_onnxruntime_runs(make_window, qtbot, tmp_path, monkeypatch, messages):
    data = small_data()
    w = make_window(data)
    run = w.workspace.add_run(trained_run(data, name="exported"))
    folder = tmp_path / "onnx"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(w.model_exporter.exported, timeout=60_000):
        action(w, "Export model…").trigger()
    assert messages == []
    desc = json.loads((folder / "latent_space.json").read_text())
    assert desc["name"] == "exported" and desc["latent_dim"] == 4 and desc["input_shape"] == [1, 16, 16]
    x = data.test_x[:6].float() / 255
    enc = ort.InferenceSession(str(folder / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    mu = enc.run(["mu"], {"image": x.numpy()})[0]
    images = dec.run(["image"], {"z": mu})[0]
    model = w.workspace.decode_model(run)
    with torch.no_grad():
        want_mu = model.encode(x)[0].numpy()
        want_images = model.decode_images(torch.from_numpy(mu)).numpy()
    assert np.abs(mu - want_mu).max() < 1e-4
    assert np.abs(images - want_images).max() < 1e-4


def test_export_model_without_a_run_says_so(make_window, messages):
    w = make_window()
    action(w, "Export model…").trigger()
    assert messages and "no run to export" in messages[0][1]
