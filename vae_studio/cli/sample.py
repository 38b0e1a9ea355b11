"""`vae-studio sample RUN`: decode samples from the prior into a PNG grid."""
from __future__ import annotations

import math

from .common import UserError, check_seed_flag, load_run_folder

MAX_SAMPLE_BYTES = 2 << 30  # decoded images of one `sample` call


def add_parser(sub) -> None:
    s = sub.add_parser("sample", help="decode samples from the prior into an image grid")
    s.add_argument("run")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", required=True, help="PNG file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--temperature", type=float, default=1.0, help="scale of the prior's standard deviation")
    s.add_argument("--label", type=int, default=None, help="class for a conditional model")
    s.set_defaults(func=run)


def run(a) -> int:
    from ..core.export import save_grid_png
    from ..core.latent import sample_prior

    from ..core.safe_io import big_number, human_bytes

    if a.n < 1:
        raise UserError("--n must be at least 1")
    if not (math.isfinite(a.temperature) and a.temperature >= 0):
        raise UserError(f"--temperature must be a finite number, zero or positive, not {a.temperature}")
    check_seed_flag(a.seed)
    run = load_run_folder(a.run)
    need = a.n * run.model.cfg.input_dim * 4 * 3  # latents aside: logits, images and the grid, float32
    if need > MAX_SAMPLE_BYTES:
        raise UserError(f"--n {big_number(a.n)} would need about {human_bytes(need)} for the images; at most "
                        f"{human_bytes(MAX_SAMPLE_BYTES)} (about {MAX_SAMPLE_BYTES // (need // a.n):,} images of this "
                        "model) can be drawn at once")
    k = run.model.num_classes
    if a.label is not None and not run.model.conditional:
        raise UserError("--label applies only to a conditional model (cvae)")
    if a.label is not None and not 0 <= a.label < k:
        raise UserError(f"class {a.label} does not exist: this model has classes 0..{k - 1}")
    try:
        imgs = sample_prior(run.model, a.n, temperature=a.temperature, seed=a.seed, label=a.label)
    except ValueError as e:  # NoPrior: a VQ-VAE before fit-prior; a temperature its prior cannot use
        raise UserError(f"cannot sample from {a.run}: {e}") from None
    try:
        save_grid_png(imgs, a.out, nrow=max(1, int(math.ceil(math.sqrt(a.n)))), padding=2, pad_value=0.5)
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"cannot write {a.out}: {e}") from None
    print(f"wrote {a.n} samples to {a.out}")
    return 0
