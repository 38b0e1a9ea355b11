"""A beta sweep: one run per beta (and per seed, with ``seeds``) from the same configuration, evaluated on the
same metrics, written as a table (``results.csv`` and ``results.md``) so that the trade-off can be read off.

The training itself is passed in (``train_fn(config, folder, run_name) -> Run``) so that the CLI can show its
progress bar; :func:`train_and_save` is a quiet default. The same settings, folders and table serve the Ray
engine (``ray_sweep.py``), which trains the runs as Ray Tune trials.
"""
from __future__ import annotations

import copy
import csv
import io
import math
import os
from pathlib import Path
from typing import Callable

from .checkpoint import CONFIG_FILE, Run, save_run
from .config import ConfigError, RunConfig
from .data import ImageData, load_dataset
from .metrics import evaluate_run

BASE_COLUMNS = ("beta", "neg_elbo", "recon", "kl", "iwae_nll", "active_units", "mig")
INT_COLUMNS = ("seed", "active_units")
FACTOR_COLUMNS = ("factorvae",)
RESULTS_CSV, RESULTS_MD = "results.csv", "results.md"
_HEADERS = {"beta": "beta", "seed": "seed", "neg_elbo": "-ELBO (nats)", "recon": "recon (nats)", "kl": "KL (nats)",
            "iwae_nll": "IWAE NLL (nats)", "active_units": "active units", "mig": "MIG", "factorvae": "FactorVAE"}


def parse_betas(text: str) -> list[float]:
    """"0.5,1,2" -> [0.5, 1.0, 2.0]; ConfigError (one line) for anything else."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ConfigError("--beta needs at least one value, e.g. --beta 1,4,8")
    try:
        betas = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--beta needs comma-separated numbers, e.g. 0.5,1,4; got {text!r}") from None
    if any(not math.isfinite(b) or b < 0 for b in betas):
        raise ConfigError(f"every beta must be a finite number >= 0; got {text!r}")
    if len(set(betas)) != len(betas):
        raise ConfigError(f"each beta may appear only once; got {text!r}")
    return betas


def beta_label(beta: float) -> str:
    """1.0 -> "1", 0.5 -> "0.5": how a beta is written in folder names and tables."""
    return format(float(beta), "g")


def parse_seeds(text: str) -> list[int]:
    """"0,1,2" -> [0, 1, 2]; ConfigError (one line) for anything else."""
    from .config import check_seed

    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        seeds = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--seeds needs comma-separated integers, e.g. 0,1,2; got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds needs distinct integers, e.g. 0,1,2; got {text!r}")
    for seed in seeds:
        check_seed(seed, "--seeds")
    return seeds


def run_folder(out: str | Path, beta: float, seed: int | None = None) -> Path:
    """``out/beta-<v>``, or ``out/beta-<v>-seed-<s>`` in a sweep over seeds."""
    return Path(out) / (f"beta-{beta_label(beta)}" + ("" if seed is None else f"-seed-{seed}"))


def settings(betas: list[float], seeds: list[int] | None = None) -> list[tuple[float, int | None]]:
    """Every (beta, seed) of a sweep, in the table's order (seed None: the config's own seed)."""
    return [(float(b), s) for b in betas for s in (seeds if seeds else [None])]


def setting_config(config: RunConfig, beta: float, seed: int | None) -> RunConfig:
    """``config`` with only beta (and the training seed, if given) changed: the data and its split stay the
    same, so runs of different seeds differ only by their initial weights, order and noise."""
    cfg = copy.deepcopy(config)
    cfg.train.beta = float(beta)
    if seed is not None:
        cfg.train.seed = int(seed)
    return cfg


def columns_for(data: ImageData, seeds: bool = False) -> tuple[str, ...]:
    cols = BASE_COLUMNS[:1] + (("seed",) if seeds else ()) + BASE_COLUMNS[1:]
    return cols + (FACTOR_COLUMNS if data.has_factors else ())


def result_row(res: dict, config: RunConfig, folder: Path, status: str, columns) -> dict:
    """One row of the table from a run's metrics (:func:`~vae_studio.core.metrics.evaluate_run`)."""
    row = {c: res.get(c) for c in columns}
    row.update(beta=float(config.train.beta), run=str(folder), status=status, iwae_note=res.get("iwae_note", ""))
    if "seed" in columns:
        row["seed"] = int(config.train.seed)
    return row


def train_and_save(config: RunConfig, folder: Path, run_name: str) -> Run:
    """Train one run quietly and save it to ``folder``."""
    from .training import Trainer

    data = load_dataset(config.data)
    trainer = Trainer(config, data)
    trainer.train()
    run = Run(config=config, model=trainer.model.cpu(), history=trainer.history, class_names=data.class_names,
              name=run_name)
    save_run(run, folder)
    return run


def sweep_run_folders(out: str | Path) -> list[Path]:
    """The run folders directly inside a sweep folder, by name. Hidden folders (a save in progress, Ray Tune's
    state) and links are skipped; a folder counts once its manifest (or, for old runs, its config) is there,
    which a save moves in whole."""
    from .run_folder_checks import CONFIG_FILE as CONFIG, MANIFEST_FILE
    from .safe_io import is_regular

    try:
        entries = sorted(os.scandir(out), key=lambda e: e.name)
    except OSError:
        return []
    return [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
            and (is_regular(Path(e.path) / MANIFEST_FILE) or is_regular(Path(e.path) / CONFIG))]


def check_free(out: str | Path, betas: list[float], seeds: list[int] | None = None) -> None:
    """Refuse to overwrite runs that are already there (ConfigError names the first one)."""
    for b, seed in settings(betas, seeds):
        folder = run_folder(out, b, seed)
        if (folder / CONFIG_FILE).exists():
            raise ConfigError(f"{folder} already holds a run; choose another --out or remove it")


def run_sweep(config: RunConfig, betas: list[float], out: str | Path, *, iwae_k: int = 100,
              train_fn: Callable[[RunConfig, Path, str], Run] | None = None,
              on_row: Callable[[dict], None] | None = None, seeds: list[int] | None = None) -> list[dict]:
    """Train one run per beta (per beta and seed, with ``seeds``) into ``out/beta-<v>[-seed-<s>]``, evaluate
    each and write the results table.

    Every run uses ``config`` with only beta (and the seed) changed. Returns one row per run (the table's
    columns, plus ``run`` (folder), ``status`` and ``iwae_note``); writes ``results.csv`` and ``results.md``
    after every run, so an interrupted sweep keeps the rows it has."""
    train_fn = train_fn or train_and_save
    out = Path(out)
    check_free(out, betas, seeds)
    data = load_dataset(config.data)  # for evaluation; the same data the runs are trained on
    columns = columns_for(data, seeds=bool(seeds))
    rows: list[dict] = []
    for beta, seed in settings(betas, seeds):
        cfg = setting_config(config, beta, seed)
        folder = run_folder(out, beta, seed)
        run = train_fn(cfg, folder, folder.name)
        t = cfg.train
        res = evaluate_run(run.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=iwae_k, seed=t.seed)
        rows.append(result_row(res, cfg, folder, run.history.status, columns))
        write_results(rows, out, columns, config, iwae_k, seeds)
        if on_row is not None:
            on_row(rows[-1])
    return rows


def _cell(col: str, v) -> str:
    if v is None:
        return ""
    if col == "beta":
        return beta_label(v)
    if col in INT_COLUMNS:
        return str(int(v))
    if col in ("mig", "factorvae"):
        return f"{v:.3f}"
    return f"{v:.2f}"


def results_csv(rows: list[dict], columns) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*columns, "status", "run"])
    for r in rows:
        w.writerow([("" if r.get(c) is None else repr(float(r[c])) if c not in INT_COLUMNS else int(r[c]))
                    for c in columns] + [r.get("status", ""), r.get("run", "")])
    return buf.getvalue()


def results_markdown(rows: list[dict], columns, config: RunConfig | None = None, iwae_k: int = 100,
                     seeds: list[int] | None = None) -> str:
    lines = []
    if config is not None:
        m, t = config.model, config.train
        seed = f"seeds {','.join(map(str, seeds))}" if seeds else f"seed {t.seed}"
        lines.append(f"Data: {config.data.dataset}; model: {m.kind} {m.arch} hidden {','.join(map(str, m.hidden))}, "
                     f"latent {m.latent_dim}; {t.epochs} epochs, batch {t.batch_size}, lr {t.lr:g}, "
                     f"{t.recon}, {seed}. Test split; nats per image; IWAE with K={iwae_k}.")
        lines.append("")
    lines.append("| " + " | ".join(_HEADERS[c] for c in columns) + " |")
    lines.append("|" + "|".join("---:" for _ in columns) + "|")
    for r in rows:
        flag = "" if r.get("status") in (None, "finished") else f" ({r['status']})"
        cells = [_cell(c, r.get(c)) or "n/a" for c in columns]
        cells[0] += flag
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({r.get("iwae_note") for r in rows if r.get("iwae_nll") is None and r.get("iwae_note")})
    lines += [""] + [f"IWAE: {n}" for n in notes] if notes else []
    return "\n".join(lines) + "\n"


def write_results(rows: list[dict], out: str | Path, columns, config: RunConfig | None = None,
                  iwae_k: int = 100, seeds: list[int] | None = None) -> tuple[Path, Path]:
    from .checkpoint import write_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / RESULTS_CSV, out / RESULTS_MD
    write_atomic(csv_path, results_csv(rows, columns).encode())
    write_atomic(md_path, results_markdown(rows, columns, config, iwae_k, seeds).encode())
    return csv_path, md_path
