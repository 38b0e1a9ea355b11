"""Exporting a model for use elsewhere: the encoder's mean and the decoder as ONNX, with a JSON description.

The sampling step (z = mu + sigma * eps) is left out: a random draw has no portable ONNX form, and a user
who wants samples draws eps from N(0, I) themselves. What is exported:

* ``encoder.onnx``: ``image`` float32 (batch, C, H, W) in [0, 1] (uint8 pixels / 255) [and ``label`` int64
  (batch,) for a conditional model] -> ``mu`` float32 (batch, latent_dim), the posterior mean;
* ``decoder.onnx``: ``z`` float32 (batch, latent_dim) [and ``label``] -> ``image`` float32 (batch, C, H, W)
  in [0, 1], the sigmoid of the decoder's logits (the Bernoulli means the app shows);
* ``latent_space.json``: what the inputs and outputs are, the latent size and prior, the classes.

The model is wrapped in small export-only modules (:class:`EncoderMean`, :class:`DecoderImage`) that go
through its latent space (``core/latent_space.py``), so every variant exports the coordinates the explorer
shows: a hierarchical VAE's top level (the levels below at their means), a VQ-VAE's encoder output before
quantisation (the decoder snaps it to the nearest codes; a fitted code prior is not exported).
The batch axis is dynamic. onnx and onnxscript (for torch's exporter) are optional: the ``onnx`` extra.
"""
from __future__ import annotations

import copy
import importlib.util
import io
import json
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from .latent_space import space_for

FORMAT = "vae-studio-onnx"
VERSION = 1
ENCODER_FILE, DECODER_FILE, DESCRIPTION_FILE = "encoder.onnx", "decoder.onnx", "latent_space.json"
FILES = (ENCODER_FILE, DECODER_FILE, DESCRIPTION_FILE)
OPSET = 18
EXTRA_HINT = "pip install 'vae-studio[onnx]'"


class ExportError(ValueError):
    """The model cannot be exported (a message for the user)."""


class EncoderMean(nn.Module):
    """image [, label] -> the posterior mean (the log-variance and the sampling step are left out)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.space = space_for(model)

    def forward(self, image: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self.space.encode(image, label)[0]


class DecoderImage(nn.Module):
    """z [, label] -> image in [0, 1] (sigmoid of the decoder's logits)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.space = space_for(model)

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.space.decode(z, label))


def missing_dependency() -> str:
    """How to install what the export needs ("" when it is installed). Imports nothing."""
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if not missing:
        return ""
    return f"Exporting to ONNX needs {' and '.join(missing)}: install them with {EXTRA_HINT}"


def describe(model, class_names=(), name: str = "") -> dict:
    """The JSON description of the exported latent space and files."""
    cfg = model.cfg
    space = space_for(model)
    c, s, d = cfg.channels, cfg.image_size, space.dim
    label = {"label": {"dtype": "int64", "shape": ["batch"],
                       "meaning": f"class index in 0..{model.num_classes - 1} (see classes)"}}
    conditional = model.conditional
    image_in = {"dtype": "float32", "shape": ["batch", c, s, s],
                "meaning": "image, pixel values in [0, 1] (uint8 / 255), channels first"}
    return {
        "format": FORMAT, "version": VERSION, "name": name,
        "latent_dim": d,
        "latent_kind": space.kind,
        "prior": space.prior_text(1.0) + ("" if space.kind != "codes" else " (the prior is not exported)"),
        "conditional": conditional,
        "classes": list(class_names)[:model.num_classes] if conditional else [],
        "num_classes": model.num_classes,
        "input_shape": [c, s, s],
        "architecture": cfg.arch,
        "encoder": {"file": ENCODER_FILE,
                    "inputs": {"image": image_in, **(label if conditional else {})},
                    "outputs": {"mu": {"dtype": "float32", "shape": ["batch", d],
                                       "meaning": "mean of q(z|x), the encoder's posterior (the sampling "
                                                  "step z = mu + exp(logvar / 2) * eps is not exported)"}}},
        "decoder": {"file": DECODER_FILE,
                    "inputs": {"z": {"dtype": "float32", "shape": ["batch", d],
                                     "meaning": "latent vector; draw it from the prior or take an encoder mu"},
                               **(label if conditional else {})},
                    "outputs": {"image": {"dtype": "float32", "shape": ["batch", c, s, s],
                                          "meaning": "sigmoid of the decoder's logits: Bernoulli means in "
                                                     "[0, 1], the image the app shows"}}},
    }


def _onnx_bytes(module: nn.Module, args: tuple, input_names: list[str], output_name: str) -> bytes:
    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes (names of dynamic axes...)
        program = torch.onnx.export(module, args, dynamo=True, input_names=input_names,
                                    output_names=[output_name], dynamic_shapes=tuple({0: batch} for _ in args),
                                    opset_version=OPSET, verbose=False)
    buffer = io.BytesIO()
    program.save(buffer)
    return buffer.getvalue()


def export_onnx(model, out_dir, class_names=(), name: str = "", overwrite: bool = True) -> list[Path]:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``latent_space.json`` for ``model`` into ``out_dir``
    (created if missing; each file written atomically). The model itself is not changed (a CPU copy is
    exported). Returns the paths written. Raises :class:`ExportError` with a message for the user."""
    from .checkpoint import write_atomic

    problem = missing_dependency()
    if problem:
        raise ExportError(problem)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is not a folder")
    if not overwrite:
        there = [f for f in FILES if (out / f).exists()]
        if there:
            raise ExportError(f"{out} already has {', '.join(there)} (choose --overwrite to replace them)")
    m = copy.deepcopy(model).cpu().float().eval()
    for p in m.parameters():
        p.requires_grad_(False)
    cfg = m.cfg
    image = torch.rand(2, cfg.channels, cfg.image_size, cfg.image_size)
    z = torch.randn(2, space_for(m).dim)
    label = (torch.arange(2) % m.num_classes,) if m.conditional else ()
    names = ["label"] if m.conditional else []
    try:
        encoder = _onnx_bytes(EncoderMean(m), (image, *label), ["image", *names], "mu")
        decoder = _onnx_bytes(DecoderImage(m), (z, *label), ["z", *names], "image")
    except Exception as e:  # noqa: BLE001 - the exporter's many failure kinds become one message
        raise ExportError(f"the ONNX exporter failed: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from e
    description = json.dumps(describe(m, class_names, name), indent=2).encode()
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / ENCODER_FILE, out / DECODER_FILE, out / DESCRIPTION_FILE]
        for path, data in zip(paths, (encoder, decoder, description)):
            write_atomic(path, data)
    except OSError as e:
        raise ExportError(f"cannot write into {out}: {e.strerror or e}") from None
    return paths
