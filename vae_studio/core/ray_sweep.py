"""The sweep on Ray Tune: one trial per (beta, seed), on a local Ray instance or an existing cluster.

Each trial runs :func:`train_trial` in a Ray worker: it sets torch's thread count to the trial's CPUs, trains
the run, evaluates it (the same metrics as the local engine) and saves an ordinary run folder into the sweep
folder, with the metrics in its ``metrics.json`` (so the GUI's metrics panel shows them without computing them
again). The driver writes the same table as the local engine (``results.csv``, ``results.md``) after every
finished trial.

Resuming: a setting whose run folder is complete (it loads) is not trained again, so an interrupted sweep goes
on with the same command (run folders are saved atomically: a trial cut off leaves no folder). Ray Tune's own
experiment state goes to ``SWEEP/.ray-tune`` and is removed at the end.

Requests no node can meet are refused before any trial starts (Ray would leave such trials pending forever):
GPUs on a machine or cluster without them, more CPUs per trial than a node has. On a cluster of several
machines, the sweep folder must be on a file system every node sees, and vae-studio installed on every node.
Ray is optional (``pip install 'vae-studio[distributed]'``); nothing here imports it until a sweep starts.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Callable

from .checkpoint import CheckpointError, Run, load_run, save_run, side_folders
from .config import ConfigError, RunConfig
from .data import load_dataset
from .metrics import evaluate_run
from .sweep import columns_for, result_row, run_folder, setting_config, settings, write_results

RAY_MISSING = "--engine ray needs Ray Tune: pip install 'vae-studio[distributed]' (or pip install 'ray[tune]')"
TUNE_STATE = ".ray-tune"  # Ray Tune's experiment folder inside the sweep folder (removed at the end)


class TrialsFailed(RuntimeError):
    """Some trials of a Ray sweep failed (the others' rows are in the table); the message says which."""


def import_ray():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray, tune


def storable_metrics(res: dict, data_name: str) -> dict:
    """The metrics of :func:`evaluate_run` as a run folder keeps them (numbers, texts, lists of numbers)."""
    keep = {k: v for k, v in res.items() if not (isinstance(v, list) and any(isinstance(x, str) for x in v))}
    return dict(keep, data_name=data_name)


def train_trial(trial_config: dict) -> None:
    """One Ray Tune trial (runs in a Ray worker): train, evaluate and save one run folder."""
    import torch
    from ray import tune

    from .training import Trainer

    s = trial_config["setting"]
    torch.set_num_threads(max(1, int(s["threads"])))
    config = RunConfig.from_dict(s["config"]).validate()
    folder = Path(s["folder"])
    data = load_dataset(config.data)
    trainer = Trainer(config, data)
    trainer.train()
    t = config.train
    res = evaluate_run(trainer.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=int(s["iwae_k"]),
                       seed=t.seed)
    run = Run(config=config, model=trainer.model.cpu(), history=trainer.history, class_names=data.class_names,
              name=folder.name, metrics=storable_metrics(res, data.name))
    save_run(run, folder, overwrite=True)
    tune.report({"status": trainer.history.status, "neg_elbo": float(res["neg_elbo"])})


def complete_run(folder: Path) -> Run | None:
    """The run saved in ``folder`` (None when nothing is there yet); ConfigError for a folder that holds
    something else or a damaged run (it is not trained over)."""
    if not os.path.lexists(folder) and not side_folders(folder)[1].is_dir():
        return None
    try:
        return load_run(folder)
    except CheckpointError as e:
        raise ConfigError(f"{folder} is there but is not a complete run ({e}); move it away to train it again")


def _row_of(run: Run, data, folder: Path, columns, iwae_k: int) -> dict:
    """The table row of a saved run: its own metrics when they were computed with this K, else computed now."""
    res = run.metrics
    if not res or res.get("iwae_k") != iwae_k or res.get("data_name") != data.name:
        t = run.config.train
        res = evaluate_run(run.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=iwae_k, seed=t.seed)
    return result_row(res, run.config, folder, run.history.status, columns)


def check_request(config: RunConfig, cpus_per_trial: float, gpus_per_trial: float, address: str | None) -> None:
    """Refuse, before Ray starts, what cannot work on this machine (ConfigError, one line)."""
    import torch

    if not cpus_per_trial >= 1:
        raise ConfigError("--cpus-per-trial must be at least 1")
    if not gpus_per_trial >= 0:
        raise ConfigError("--gpus-per-trial must be 0 or more")
    cuda = config.train.device.startswith("cuda")
    if cuda and gpus_per_trial == 0:
        raise ConfigError("--device cuda with --engine ray needs --gpus-per-trial (e.g. 1, or 0.5 to share a GPU)")
    if gpus_per_trial > 0 and not cuda:
        raise ConfigError("--gpus-per-trial needs --device cuda (the trials would hold a GPU and train on the CPU)")
    if cuda and config.train.device != "cuda":
        raise ConfigError("with --engine ray each trial trains on the GPU Ray gives it: use --device cuda, "
                          f"not {config.train.device}")
    if address is None and gpus_per_trial > 0 and not torch.cuda.is_available():
        raise ConfigError(f"--gpus-per-trial {gpus_per_trial:g}: this machine has no CUDA GPU, so the trials "
                          "would wait for one forever; use --gpus-per-trial 0 and --device cpu, or --address of a "
                          "Ray cluster with GPUs")


def check_cluster(ray, cpus_per_trial: float, gpus_per_trial: float) -> None:
    """Refuse a request that no node of the running Ray cluster can meet (it would stay pending forever)."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    cpus = max((r.get("CPU", 0) for r in nodes), default=0)
    gpus = max((r.get("GPU", 0) for r in nodes), default=0)
    if gpus_per_trial > gpus:
        raise ConfigError(f"--gpus-per-trial {gpus_per_trial:g}: no node of the Ray cluster has that many GPUs "
                          f"(at most {gpus:g}), so the trials would wait forever")
    if cpus_per_trial > cpus:
        raise ConfigError(f"--cpus-per-trial {cpus_per_trial:g}: no node of the Ray cluster has that many CPUs "
                          f"(at most {cpus:g}), so the trials would wait forever")


def _start_ray(ray, address: str | None) -> bool:
    """Connect to ``address`` or start a local instance, unless Ray is running already; True if started here."""
    if ray.is_initialized():
        return False
    package_parent = str(Path(__file__).resolve().parents[2])
    if address is None and package_parent not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        # a local instance's workers are started from this environment: let them import this vae_studio
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    except ConnectionError as e:
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: {e}") from None
    return True


def run_ray_sweep(config: RunConfig, betas: list[float], out: str | Path, *, seeds: list[int] | None = None,
                  iwae_k: int = 100, address: str | None = None, cpus_per_trial: float = 1,
                  gpus_per_trial: float = 0, on_row: Callable[[dict], None] | None = None,
                  on_skip: Callable[[Path], None] | None = None) -> list[dict]:
    """Train every (beta, seed) whose run folder is not complete yet as a Ray Tune trial; write the table.

    Returns the rows in the table's order (complete runs included). Raises ConfigError for a request that
    cannot work (checked before any trial starts) and :class:`TrialsFailed` when trials failed (after the
    table of the others is written)."""
    ray, tune = import_ray()
    check_request(config, cpus_per_trial, gpus_per_trial, address)
    out = Path(os.path.abspath(out))
    data = load_dataset(config.data)  # the columns, and the rows of runs saved without their metrics
    columns = columns_for(data, seeds=bool(seeds))
    plan = settings(betas, seeds)
    rows: dict[Path, dict] = {}
    todo = []
    for beta, seed in plan:
        folder = run_folder(out, beta, seed)
        run = complete_run(folder)
        if run is None:
            todo.append({"config": setting_config(config, beta, seed).to_dict(), "folder": str(folder),
                         "iwae_k": iwae_k, "threads": int(cpus_per_trial)})
        else:
            rows[folder] = _row_of(run, data, folder, columns, iwae_k)
            if on_skip is not None:
                on_skip(folder)
    order = [run_folder(out, b, s) for b, s in plan]

    def write():
        write_results([rows[f] for f in order if f in rows], out, columns, config, iwae_k, seeds)

    failures: list[str] = []
    if todo:
        out.mkdir(parents=True, exist_ok=True)
        started = _start_ray(ray, address)
        try:
            check_cluster(ray, cpus_per_trial, gpus_per_trial)
            resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
            failures = _fit(tune, todo, resources, out, rows, data, columns, iwae_k, write, on_row)
        finally:
            shutil.rmtree(out / TUNE_STATE, ignore_errors=True)
            if started:
                ray.shutdown()
    write()
    if failures:
        raise TrialsFailed(f"{len(failures)} of {len(todo)} trials failed (the table has the others; run the same "
                           f"command again to retry them): {failures[0]}")
    return [rows[f] for f in order if f in rows]


def _fit(tune, todo, resources: dict, out: Path, rows: dict, data, columns, iwae_k: int, write, on_row) -> list[str]:
    """Run the trials; each finished one adds its row and rewrites the table. Returns the failures' messages."""

    class RowWriter(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            folder = Path(trial.config["setting"]["folder"])
            rows[folder] = _row_of(load_run(folder), data, folder, columns, iwae_k)
            write()
            if on_row is not None:
                on_row(rows[folder])

    # the classic reporter, which verbose=0 silences (the newer one still draws its tables); our own lines
    # report each finished trial
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    tuner = tune.Tuner(
        tune.with_resources(train_trial, resources),
        param_space={"setting": tune.grid_search(todo)},
        run_config=tune.RunConfig(name="sweep", storage_path=str(out / TUNE_STATE), verbose=0,
                                  callbacks=[RowWriter()]),
    )
    results = tuner.fit()
    return [_last_line(r.error) for r in results if r.error is not None]


def _last_line(error: BaseException) -> str:
    """The user-facing line of a trial's error (Ray wraps it in its own traceback)."""
    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else type(error).__name__
    return line.split(": ", 1)[1] if line.split(": ", 1)[0].rsplit(".", 1)[-1].endswith("Error") and ": " in line \
        else line

