"""`vae-studio eval RUN`: the test metrics of a saved run."""
from __future__ import annotations

import json

from .common import UserError, check_iwae_k, json_safe, load_run_folder


def add_parser(sub) -> None:
    e = sub.add_parser("eval", help="test metrics of a saved run")
    e.add_argument("run")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound (0 = skip)")
    e.set_defaults(func=run)


def run(a) -> int:
    from ..core.data import load_dataset
    from ..core.metrics import evaluate_run, trained_steps

    check_iwae_k(a.iwae_k)
    run = load_run_folder(a.run)
    data = load_dataset(run.config.data)
    t = run.config.train
    try:
        res = evaluate_run(run.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=a.iwae_k, seed=t.seed,
                           config=run.config, steps_done=trained_steps(run.history))
    except ValueError as e:  # the data set no longer fits the model
        raise UserError(f"cannot evaluate {a.run}: {e}") from None
    res = {"run": str(a.run), "dataset": run.config.data.dataset, "beta": t.beta, "gamma": t.gamma,
           "recon_loss": t.recon, **res}
    if a.json:
        print(json.dumps(json_safe(res), allow_nan=False))
        return 0
    print(f"{a.run}: on the {res['n']} test images of {res['dataset']}, nats per image")
    if res["neg_elbo"] is None:  # a model with a discrete code grid: no ELBO is claimed
        print(f"  reconstruction  {res['recon']:10.2f}")
        print(f"  perplexity      {res['perplexity']:10.2f}  of the codebook over the test codes")
        print(f"  codes in use    {res['codes_in_use']:10d}  of {res['codebook_size']}")
        if res["prior_nll"] is not None:
            print(f"  prior NLL       {res['prior_nll']:10.2f}  of the test codes ({res['prior_bits_per_code']:.3f} "
                  "bits per code)")
        else:
            print(f"  prior NLL       {'n/a':>10}  ({res['prior_note']})")
        return 0
    print(f"  negative ELBO   {res['neg_elbo']:10.2f}  (recon {res['recon']:.2f} + KL {res['kl']:.2f})")
    if res["iwae_nll"] is not None:
        print(f"  IWAE NLL        {res['iwae_nll']:10.2f}  (K={res['iwae_k']}, an upper bound on -log p(x))")
    else:
        print(f"  IWAE NLL        {'n/a':>10}  ({res['iwae_note']})")
    print(f"  active units    {res['active_units']:10d}  of {res['latent_dim']} (Var of the posterior mean > 0.01)")
    if "active_units_per_level" in res:
        print("  active units per level (bottom first): " + ", ".join(
            f"z{i + 1} {n} of {d}" for i, (n, d) in enumerate(zip(res["active_units_per_level"], res["level_dims"]))))
    if res["mig"] is not None:
        print(f"  MIG             {res['mig']:10.3f}  on {res['disentanglement_n']} images; per factor: "
              + ", ".join(f"{n} {v:.2f}" if v is not None else f"{n} n/a"
                          for n, v in zip(res["factor_names"], res["mig_per_factor"])))
        print(f"  FactorVAE score {res['factorvae']:10.3f}  (majority-vote accuracy; chance ~{1 / len(res['factor_names']):.2f})")
    own = "".join(f", {name} {res[name]:.4g}" for name in res["objective_terms"])
    print(f"  training loss   {res['objective_total']:10.2f}  ({res['objective']}'s objective{own})")
    print("  KL per dimension: " + " ".join(f"{v:.2f}" for v in res["kl_per_dim"]))
    return 0
