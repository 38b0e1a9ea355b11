"""`vae-studio export RUN --format onnx --out DIR`: the encoder's mean and the decoder as ONNX files, with a
JSON description of the latent space (see core/onnx_export.py)."""
from __future__ import annotations

from .common import UserError, load_run_folder

FORMATS = ("onnx",)


def add_parser(sub) -> None:
    s = sub.add_parser("export", help="export a run's model for use elsewhere (ONNX encoder mean and decoder)")
    s.add_argument("run", help="run folder")
    s.add_argument("--format", choices=FORMATS, default="onnx")
    s.add_argument("--out", required=True, help="folder for encoder.onnx, decoder.onnx and latent_space.json")
    s.add_argument("--overwrite", action="store_true", help="replace those files if the folder has them")
    s.set_defaults(func=run)


def run(a) -> int:
    from ..core.onnx_export import ExportError, export_onnx, missing_dependency

    problem = missing_dependency()
    if problem:
        raise UserError(problem)
    run = load_run_folder(a.run)
    try:
        paths = export_onnx(run.model, a.out, class_names=run.class_names, name=run.name, overwrite=a.overwrite)
    except ExportError as e:
        raise UserError(str(e)) from None
    print(f"wrote {', '.join(p.name for p in paths)} to {a.out}")
    return 0
