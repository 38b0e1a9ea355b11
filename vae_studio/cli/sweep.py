"""`vae-studio sweep`: one run per beta (and per seed), and a table of every metric; locally one run after
another, or as Ray Tune trials (``--engine ray``, core/ray_sweep.py)."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import UserError, add_config_flags, check_iwae_k, config_from_args, train_run

RAY_ONLY = ("address", "cpus_per_trial", "gpus_per_trial")


def add_parser(sub) -> None:
    w = sub.add_parser("sweep", conflict_handler="resolve",
                       help="train one run per beta (and seed) and tabulate every metric (results.csv, results.md)")
    add_config_flags(w)
    w.add_argument("--beta", required=True, help="comma-separated betas, e.g. 0.5,1,2,4,8")
    w.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2: one run per beta and seed "
                                                 "(FOLDER/beta-<v>-seed-<s>); default: one run per beta with --seed")
    w.add_argument("--out", required=True, help="folder for the runs (FOLDER/beta-<v>) and the results table")
    w.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound (0 = skip)")
    w.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    e = w.add_argument_group("engine")
    e.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: one run after another in this process; ray: one Ray Tune trial per run, on this "
                        "machine or a cluster (needs pip install 'vae-studio[distributed]'); the same command "
                        "again resumes an interrupted ray sweep")
    e.add_argument("--address", default=None, help="ray: the cluster to use (auto, or HOST:PORT); default: start "
                                                   "Ray on this machine")
    e.add_argument("--cpus-per-trial", type=int, default=None, help="ray: CPUs (and torch threads) per trial (1)")
    e.add_argument("--gpus-per-trial", type=float, default=None, help="ray: GPUs per trial (0; with --device cuda)")
    w.set_defaults(func=run)


def run(a) -> int:
    from ..core.sweep import parse_betas, parse_seeds

    betas = parse_betas(a.beta)
    seeds = parse_seeds(a.seeds) if a.seeds is not None else None
    check_iwae_k(a.iwae_k)
    a.beta = betas[0]  # config_from_args validates one value; each run gets its own below
    config = config_from_args(a)
    if a.engine == "ray":
        rows = _run_ray(a, config, betas, seeds)
    else:
        given = [f"--{k.replace('_', '-')}" for k in RAY_ONLY if getattr(a, k) is not None]
        if given:
            raise UserError(f"{given[0]} applies to --engine ray")
        rows = _run_local(a, config, betas, seeds)
    print(f"wrote {len(rows)} rows to {Path(a.out) / 'results.csv'} and {Path(a.out) / 'results.md'}")
    return 0


def _run_local(a, config, betas, seeds) -> list[dict]:
    from ..core.sweep import run_sweep

    def train(cfg, folder, name):
        run = train_run(cfg, str(folder), quiet=a.quiet, run_name=name)
        if run.history.status == "diverged":
            print(f"warning: {_setting(cfg)} diverged: {run.history.message}", file=sys.stderr)
        return run

    return run_sweep(config, betas, a.out, iwae_k=a.iwae_k, train_fn=train, on_row=_report, seeds=seeds)


def _run_ray(a, config, betas, seeds) -> list[dict]:
    from ..core.ray_sweep import TrialsFailed, run_ray_sweep

    def skipped(folder):
        if sys.stderr is not None and not a.quiet:
            print(f"{folder.name}: already trained, skipped", file=sys.stderr)

    try:
        return run_ray_sweep(config, betas, a.out, seeds=seeds, iwae_k=a.iwae_k, address=a.address,
                             cpus_per_trial=1 if a.cpus_per_trial is None else a.cpus_per_trial,
                             gpus_per_trial=0 if a.gpus_per_trial is None else a.gpus_per_trial,
                             on_row=_report, on_skip=skipped)
    except TrialsFailed as e:
        raise UserError(str(e)) from None


def _setting(cfg_or_row) -> str:
    if isinstance(cfg_or_row, dict):
        beta, seed = cfg_or_row["beta"], cfg_or_row.get("seed")
    else:
        beta, seed = cfg_or_row.train.beta, None
    return f"beta {beta:g}" + ("" if seed is None else f" seed {seed}")


def _report(row) -> None:
    if sys.stderr is not None:
        iw = "n/a" if row["iwae_nll"] is None else f"{row['iwae_nll']:.2f}"
        mig = "" if row.get("mig") is None else f"  MIG {row['mig']:.3f}"
        print(f"{_setting(row)}: -ELBO {row['neg_elbo']:.2f}  IWAE {iw}  active units {row['active_units']}{mig}",
              file=sys.stderr)
