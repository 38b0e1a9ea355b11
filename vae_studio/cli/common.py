"""What the `vae-studio` commands share: the one-line errors, the setting flags, the progress line and
training one run to a folder. Imports no Qt."""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from pathlib import Path

from .variant_flags import add_variant_flags, variant_settings

EXIT_USAGE, EXIT_FAIL, EXIT_INTERRUPTED = 2, 1, 130
MAX_IWAE_K = 100_000


class UserError(Exception):
    """An error to report as one line, exit code 1."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise SystemExit(fail(f"{self.prog}: {message} (see --help)", EXIT_USAGE))


def fail(msg: str, code: int = EXIT_FAIL) -> int:
    if sys.stderr is not None:
        print(f"error: {msg}" if not msg.startswith("vae-studio") else msg, file=sys.stderr)
    return code


def ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return vals


def add_config_flags(p: argparse.ArgumentParser) -> None:
    from ..core.config import ARCHS, RECON_LOSSES, DataConfig, ModelConfig, TrainConfig
    from ..core.variants import VARIANTS, variant_names

    d, m, t = DataConfig(), ModelConfig(), TrainConfig()
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=d.dataset, help="registry name (see `vae-studio datasets`)")
    g.add_argument("--data-root", default=None, help="folder or .npz file for the data set (or $VAE_STUDIO_DATA)")
    g.add_argument("--image-size", type=int, default=d.image_size, help="image folders: square size")
    g.add_argument("--rgb", action="store_true", help="image folders: keep colour (default greyscale)")
    g.add_argument("--binarize", action="store_true", help="dynamically binarised data (literature's MNIST)")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=variant_names(), default=m.kind,
                   help="the model variant: " + "; ".join(f"{v.name}: {v.title}" for v in VARIANTS.values()))
    g.add_argument("--arch", choices=ARCHS, default=m.arch)
    g.add_argument("--latent-dim", type=int, default=m.latent_dim)
    g.add_argument("--hidden", type=ints, default=m.hidden, help="hidden sizes, e.g. 400 or 512,256")
    g = p.add_argument_group("training")
    g.add_argument("--beta", type=float, default=t.beta, help="weight on the KL term (1 = true ELBO)")
    g.add_argument("--gamma", type=float, default=t.gamma, help="weight on the reconstruction term")
    g.add_argument("--recon", choices=RECON_LOSSES, default=t.recon)
    g.add_argument("--kl-warmup", type=int, default=None,
                   help=f"epochs over which beta ramps up (default {t.kl_warmup_epochs}; the model's own where "
                        "it has one: " + ", ".join(f"{v.name} {v.kl_warmup_epochs}" for v in VARIANTS.values()
                                                  if v.kl_warmup_epochs != t.kl_warmup_epochs) + ")")
    g.add_argument("--lr", type=float, default=t.lr)
    g.add_argument("--batch-size", type=int, default=t.batch_size)
    g.add_argument("--epochs", type=int, default=t.epochs)
    g.add_argument("--seed", type=int, default=t.seed)
    g.add_argument("--device", default=t.device, help="cpu, cuda, cuda:N or mps")
    g.add_argument("--grad-clip", type=float, default=t.grad_clip, help="max gradient norm (0 = off)")
    add_variant_flags(p)


def config_from_args(a: argparse.Namespace):
    from ..core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(dataset=a.dataset, root=a.data_root, image_size=a.image_size, grayscale=not a.rgb,
                        binarize=a.binarize, seed=a.seed),
        model=ModelConfig(kind=a.model, arch=a.arch, latent_dim=a.latent_dim, hidden=list(a.hidden),
                          conditional=a.conditional, settings=variant_settings(a, a.model)),
        train=TrainConfig(beta=a.beta, gamma=a.gamma, recon=a.recon, lr=a.lr,
                          kl_warmup_epochs=a.kl_warmup if a.kl_warmup is not None else _variant_warmup(a.model),
                          batch_size=a.batch_size, epochs=a.epochs, seed=a.seed, device=a.device,
                          grad_clip=a.grad_clip),
    )


def _variant_warmup(name: str) -> int:
    from ..core.variants import VARIANTS

    v = VARIANTS.get(name)
    return v.kl_warmup_epochs if v is not None else 0


class Progress:
    """A one-line progress bar on stderr (silent when there is no stderr, as under pythonw)."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(self.stream and hasattr(self.stream, "isatty") and self.stream.isatty())
        self.t0 = time.perf_counter()

    def step(self, epoch, epochs, done, total, loss):
        if not (self.stream and self.tty):
            return
        w = 30
        fill = int(w * done / max(total, 1))
        self.stream.write(f"\repoch {epoch}/{epochs} [{'#' * fill}{'.' * (w - fill)}] "
                          f"{done}/{total} loss {loss:9.2f}")
        self.stream.flush()

    def line(self, text):
        if self.stream:
            self.stream.write(("\r" if self.tty else "") + text + "\n")
            self.stream.flush()


def train_run(config, out: str | None, quiet: bool = False, run_name: str = "", overwrite: bool = False,
              ctrl_c_stops: bool = False, parallel=None):
    """Train one run from a config, print progress, save it to ``out``; returns the Run.

    ``out`` is checked before any training (see :func:`~vae_studio.core.checkpoint.check_destination`).
    With ``ctrl_c_stops``, Ctrl-C during training is the GUI's Stop: training ends after the current step
    and what was trained is saved as a stopped run (a second Ctrl-C aborts). ``parallel``: this process's
    part of a torchrun job (core/distributed.py); its rank 0 alone checks ``out``, prints and saves."""
    from ..core.checkpoint import Run, check_destination, save_run
    from ..core.data import load_dataset
    from ..core.distributed import SINGLE_PROCESS
    from ..core.training import Trainer
    from ..core.training_events import Diverged, EpochEnd, StepChunk, TrainControl

    parallel = parallel or SINGLE_PROCESS
    main = parallel.is_main
    with parallel.together():  # under torchrun: a bad setting fails every rank, with one message
        if out is not None and main:
            check_destination(out, overwrite)
        data = load_dataset(config.data)
        control = TrainControl()
        trainer = Trainer(config, data, control, parallel=parallel)
    bar = Progress() if not quiet and main else Progress(stream=False)
    epochs = config.train.epochs

    def on_event(ev):
        if isinstance(ev, StepChunk):
            done = int(ev.steps[-1]) - (ev.epoch - 1) * ev.steps_per_epoch
            bar.step(ev.epoch, epochs, done, ev.steps_per_epoch, float(ev.losses[-1, 0]))
        elif isinstance(ev, EpochEnd):
            r = ev.record
            bar.line(f"epoch {ev.epoch}/{epochs}  train {r['train_total']:.2f}  test -ELBO {r['test_neg_elbo']:.2f} "
                     f"(recon {r['test_recon']:.2f}, KL {r['test_kl']:.2f})  {r['seconds']:.1f}s")
        elif isinstance(ev, Diverged):
            bar.line(f"diverged: {ev.message}")

    with stop_on_ctrl_c(control) if ctrl_c_stops else contextlib.nullcontext():
        trainer.train(on_event)
    run = Run(config=config, model=trainer.model.cpu(), history=trainer.history, class_names=data.class_names,
              name=run_name or (Path(out).name if out else ""))
    if out and main:
        save_run(run, out, overwrite=overwrite)
        bar.line(f"saved {'the stopped ' if run.history.status == 'stopped' else ''}run to {out}")
    return run


@contextlib.contextmanager


def stop_on_ctrl_c(control):
    """While training: the first Ctrl-C asks the trainer to stop (like the GUI's Stop), a second one aborts."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(_signum, _frame):
        if control.stop_requested:
            raise KeyboardInterrupt
        control.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def config_from_file(path: str):
    """The RunConfig of a run folder, of its config.json, or of a JSON file holding a RunConfig (validated;
    the schedule of beta / lr changes included, so the run is reproduced)."""
    from ..core.run_folder_checks import CONFIG_FILE, FORMAT, MAX_CONFIG_BYTES
    from ..core.config import ConfigError, RunConfig
    from ..core.safe_io import loads_json, read_regular

    file = Path(path) / CONFIG_FILE if Path(path).is_dir() else Path(path)
    d = loads_json(read_regular(file, MAX_CONFIG_BYTES, ConfigError, "configuration"), ConfigError, str(file))
    if isinstance(d, dict) and d.get("format") == FORMAT:  # a run folder's config.json
        d = d.get("config")
    return RunConfig.from_dict(d).validate()


def load_run_folder(path):
    from ..core.checkpoint import load_run

    return load_run(path)


def check_seed_flag(seed: int, flag: str = "--seed") -> int:
    """A seed flag's value, or a UserError saying what a seed must be."""
    from ..core.config import ConfigError, check_seed

    try:
        return check_seed(seed, flag)
    except ConfigError as e:
        raise UserError(str(e)) from None


def check_iwae_k(k: int) -> None:
    if not 0 <= k <= MAX_IWAE_K:
        raise UserError(f"--iwae-k must be 0 (skip) or a number of samples up to {MAX_IWAE_K:,}")


def json_safe(obj):
    """NaN and infinities become null: `eval --json` always prints valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
