"""`vae-studio sweep`: one run per beta, and a table of every metric."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import add_config_flags, check_iwae_k, config_from_args, train_run


def add_parser(sub) -> None:
    w = sub.add_parser("sweep", conflict_handler="resolve",
                       help="train one run per beta and tabulate every metric (results.csv, results.md)")
    add_config_flags(w)
    w.add_argument("--beta", required=True, help="comma-separated betas, e.g. 0.5,1,2,4,8")
    w.add_argument("--out", required=True, help="folder for the runs (FOLDER/beta-<v>) and the results table")
    w.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound (0 = skip)")
    w.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    w.set_defaults(func=run)


def run(a) -> int:
    from ..core.sweep import parse_betas, run_sweep

    betas = parse_betas(a.beta)
    check_iwae_k(a.iwae_k)
    a.beta = betas[0]  # config_from_args validates one value; each run gets its own below
    config = config_from_args(a)

    def train(cfg, folder, name):
        run = train_run(cfg, str(folder), quiet=a.quiet, run_name=name)
        if run.history.status == "diverged":
            print(f"warning: beta {cfg.train.beta:g} diverged: {run.history.message}", file=sys.stderr)
        return run

    def report(row):
        if sys.stderr is not None:
            iw = "n/a" if row["iwae_nll"] is None else f"{row['iwae_nll']:.2f}"
            mig = "" if row.get("mig") is None else f"  MIG {row['mig']:.3f}"
            print(f"beta {row['beta']:g}: -ELBO {row['neg_elbo']:.2f}  IWAE {iw}  active units {row['active_units']}"
                  f"{mig}", file=sys.stderr)

    rows = run_sweep(config, betas, a.out, iwae_k=a.iwae_k, train_fn=train, on_row=report)
    print(f"wrote {len(rows)} rows to {Path(a.out) / 'results.csv'} and {Path(a.out) / 'results.md'}")
    return 0
