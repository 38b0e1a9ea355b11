"""`vae-studio fit-prior RUN`: fit a VQ-VAE's autoregressive prior over its code grids (the second stage that
lets it sample) and save it in the run folder."""
from __future__ import annotations

from .common import UserError, check_seed_flag, load_run_folder


def add_parser(sub) -> None:
    s = sub.add_parser("fit-prior", help="fit a VQ-VAE's prior over its codes, so that it can sample")
    s.add_argument("run")
    s.add_argument("--epochs", type=int, default=10)
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--lr", type=float, default=3e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    s.set_defaults(func=run)


def run(a) -> int:
    import math

    from ..core.checkpoint import save_run
    from ..core.code_prior import CodePrior, fit_code_prior
    from ..core.data import load_dataset
    from ..core.devices import resolve_device
    from ..core.metrics import check_compatible

    if a.epochs < 1 or a.batch_size < 1:
        raise UserError("--epochs and --batch-size must be at least 1")
    if not (math.isfinite(a.lr) and a.lr > 0):
        raise UserError(f"--lr must be a finite positive number, not {a.lr}")
    check_seed_flag(a.seed)
    run = load_run_folder(a.run)
    if not hasattr(run.model, "attach_prior"):
        raise UserError(f"{a.run} is a {run.config.model.kind} run: only a VQ-VAE needs a fitted prior")
    device = resolve_device(a.device)
    data = load_dataset(run.config.data)
    try:
        check_compatible(run.model, data)
    except ValueError as e:
        raise UserError(f"cannot fit a prior for {a.run}: {e}") from None
    run.model.to(device)
    for ev in fit_code_prior(run.model, data, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                             device=device):
        if isinstance(ev, CodePrior):
            prior = ev
        else:
            print(f"epoch {ev.epoch}/{ev.epochs}: train NLL {ev.train_nll:.2f}, test NLL {ev.test_nll:.2f} nats "
                  f"per image ({ev.test_bits_per_code:.3f} bits per code)")
    run.model.cpu()
    run.code_prior = prior
    run.model.attach_prior(prior)
    save_run(run, run.folder)
    print(f"saved the prior in {run.folder}")
    return 0
