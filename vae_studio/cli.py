"""``vae-studio``: no arguments opens the GUI; subcommands run headless on the same core.

Every failure a user can cause ends with one line on stderr and a non-zero exit, never a traceback.
This module imports no Qt: the GUI is imported only when it is asked for.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path

EXIT_USAGE, EXIT_FAIL, EXIT_INTERRUPTED = 2, 1, 130
MAX_SAMPLE_BYTES = 2 << 30  # decoded images of one `sample` call
MAX_IWAE_K = 100_000


class UserError(Exception):
    """An error to report as one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise SystemExit(_fail(f"{self.prog}: {message} (see --help)", EXIT_USAGE))


def _fail(msg: str, code: int = EXIT_FAIL) -> int:
    if sys.stderr is not None:
        print(f"error: {msg}" if not msg.startswith("vae-studio") else msg, file=sys.stderr)
    return code


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return vals


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    from .core.config import ARCHS, MODEL_KINDS, RECON_LOSSES, DataConfig, ModelConfig, TrainConfig

    d, m, t = DataConfig(), ModelConfig(), TrainConfig()
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=d.dataset, help="registry name (see `vae-studio datasets`)")
    g.add_argument("--data-root", default=None, help="folder or .npz file for the data set (or $VAE_STUDIO_DATA)")
    g.add_argument("--image-size", type=int, default=d.image_size, help="image folders: square size")
    g.add_argument("--rgb", action="store_true", help="image folders: keep colour (default greyscale)")
    g.add_argument("--binarize", action="store_true", help="dynamically binarised data (literature's MNIST)")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODEL_KINDS, default=m.kind, help="vae or conditional vae (cvae)")
    g.add_argument("--arch", choices=ARCHS, default=m.arch)
    g.add_argument("--latent-dim", type=int, default=m.latent_dim)
    g.add_argument("--hidden", type=_ints, default=m.hidden, help="hidden sizes, e.g. 400 or 512,256")
    g = p.add_argument_group("training")
    g.add_argument("--beta", type=float, default=t.beta, help="weight on the KL term (1 = true ELBO)")
    g.add_argument("--gamma", type=float, default=t.gamma, help="weight on the reconstruction term")
    g.add_argument("--recon", choices=RECON_LOSSES, default=t.recon)
    g.add_argument("--kl-warmup", type=int, default=t.kl_warmup_epochs, help="epochs over which beta ramps up")
    g.add_argument("--lr", type=float, default=t.lr)
    g.add_argument("--batch-size", type=int, default=t.batch_size)
    g.add_argument("--epochs", type=int, default=t.epochs)
    g.add_argument("--seed", type=int, default=t.seed)
    g.add_argument("--device", default=t.device, help="cpu, cuda, cuda:N or mps")
    g.add_argument("--grad-clip", type=float, default=t.grad_clip, help="max gradient norm (0 = off)")


def config_from_args(a: argparse.Namespace):
    from .core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(dataset=a.dataset, root=a.data_root, image_size=a.image_size, grayscale=not a.rgb,
                        binarize=a.binarize, seed=a.seed),
        model=ModelConfig(kind=a.model, arch=a.arch, latent_dim=a.latent_dim, hidden=list(a.hidden)),
        train=TrainConfig(beta=a.beta, gamma=a.gamma, recon=a.recon, kl_warmup_epochs=a.kl_warmup, lr=a.lr,
                          batch_size=a.batch_size, epochs=a.epochs, seed=a.seed, device=a.device,
                          grad_clip=a.grad_clip),
    )


class _Progress:
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
              ctrl_c_stops: bool = False):
    """Train one run from a config, print progress, save it to ``out``; returns the Run.

    ``out`` is checked before any training (see :func:`~vae_studio.core.checkpoint.check_destination`).
    With ``ctrl_c_stops``, Ctrl-C during training is the GUI's Stop: training ends after the current step
    and what was trained is saved as a stopped run (a second Ctrl-C aborts)."""
    from .core.checkpoint import Run, check_destination, save_run
    from .core.data import load_dataset
    from .core.training import Diverged, EpochEnd, StepChunk, TrainControl, Trainer

    if out is not None:
        check_destination(out, overwrite)
    data = load_dataset(config.data)
    control = TrainControl()
    trainer = Trainer(config, data, control)
    bar = _Progress() if not quiet else _Progress(stream=False)
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

    with _ctrl_c_stops(control) if ctrl_c_stops else contextlib.nullcontext():
        trainer.train(on_event)
    run = Run(config=config, model=trainer.model.cpu(), history=trainer.history, class_names=data.class_names,
              name=run_name or (Path(out).name if out else ""))
    if out:
        save_run(run, out, overwrite=overwrite)
        bar.line(f"saved {'the stopped ' if run.history.status == 'stopped' else ''}run to {out}")
    return run


@contextlib.contextmanager
def _ctrl_c_stops(control):
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
    from .core.checkpoint import CONFIG_FILE, FORMAT, MAX_CONFIG_BYTES
    from .core.config import ConfigError, RunConfig
    from .core.safe_io import loads_json, read_regular

    file = Path(path) / CONFIG_FILE if Path(path).is_dir() else Path(path)
    d = loads_json(read_regular(file, MAX_CONFIG_BYTES, ConfigError, "configuration"), ConfigError, str(file))
    if isinstance(d, dict) and d.get("format") == FORMAT:  # a run folder's config.json
        d = d.get("config")
    return RunConfig.from_dict(d).validate()


def _setting_flags_given(a) -> list[str]:
    """The setting flags of ``train`` given on the command line (their values differ from the defaults)."""
    defaults = vars(build_parser().parse_args(["train", "--out", "-"]))
    skip = {"out", "overwrite", "config", "func", "command"}
    return sorted(f"--{k.replace('_', '-')}" for k, v in vars(a).items() if k not in skip and v != defaults.get(k))


def cmd_train(a) -> int:
    if a.config is not None:
        given = _setting_flags_given(a)
        if given:
            raise UserError(f"--config gives every setting; leave out {', '.join(given)}")
        config = config_from_file(a.config)
    else:
        config = config_from_args(a)
    run = train_run(config, a.out, overwrite=a.overwrite, ctrl_c_stops=True)
    if run.history.status == "diverged":
        raise UserError(run.history.message)
    if run.history.status == "stopped":
        return _fail(f"stopped by Ctrl-C after {len(run.history.epochs)} epochs ({run.history.message}); the run "
                     f"trained so far was saved to {a.out}", EXIT_INTERRUPTED)
    return 0


def _load(path):
    from .core.checkpoint import load_run

    return load_run(path)


def cmd_eval(a) -> int:
    from .core.data import load_dataset
    from .core.metrics import evaluate_run

    _check_iwae_k(a.iwae_k)
    run = _load(a.run)
    data = load_dataset(run.config.data)
    t = run.config.train
    try:
        res = evaluate_run(run.model, data, recon=t.recon, beta=t.beta, gamma=t.gamma, iwae_k=a.iwae_k, seed=t.seed)
    except ValueError as e:  # the data set no longer fits the model
        raise UserError(f"cannot evaluate {a.run}: {e}") from None
    res = {"run": str(a.run), "dataset": run.config.data.dataset, "beta": t.beta, "gamma": t.gamma,
           "recon_loss": t.recon, **res}
    if a.json:
        print(json.dumps(_json_safe(res), allow_nan=False))
        return 0
    print(f"{a.run}: on the {res['n']} test images of {res['dataset']}, nats per image")
    print(f"  negative ELBO   {res['neg_elbo']:10.2f}  (recon {res['recon']:.2f} + KL {res['kl']:.2f})")
    if res["iwae_nll"] is not None:
        print(f"  IWAE NLL        {res['iwae_nll']:10.2f}  (K={res['iwae_k']}, an upper bound on -log p(x))")
    else:
        print(f"  IWAE NLL        {'n/a':>10}  ({res['iwae_note']})")
    print(f"  active units    {res['active_units']:10d}  of {res['latent_dim']} (Var of the posterior mean > 0.01)")
    if res["mig"] is not None:
        print(f"  MIG             {res['mig']:10.3f}  on {res['disentanglement_n']} images; per factor: "
              + ", ".join(f"{n} {v:.2f}" if v is not None else f"{n} n/a"
                          for n, v in zip(res["factor_names"], res["mig_per_factor"])))
        print(f"  FactorVAE score {res['factorvae']:10.3f}  (majority-vote accuracy; chance ~{1 / len(res['factor_names']):.2f})")
    print("  KL per dimension: " + " ".join(f"{v:.2f}" for v in res["kl_per_dim"]))
    return 0


def _check_iwae_k(k: int) -> None:
    if not 0 <= k <= MAX_IWAE_K:
        raise UserError(f"--iwae-k must be 0 (skip) or a number of samples up to {MAX_IWAE_K:,}")


def _json_safe(obj):
    """NaN and infinities become null: `eval --json` always prints valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def cmd_sweep(a) -> int:
    from .core.sweep import parse_betas, run_sweep

    betas = parse_betas(a.beta)
    _check_iwae_k(a.iwae_k)
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


def cmd_sample(a) -> int:
    from torchvision.utils import save_image

    from .core.latent import sample_prior

    from .core.config import ConfigError, check_seed
    from .core.safe_io import big_number, human_bytes

    if a.n < 1:
        raise UserError("--n must be at least 1")
    if not (math.isfinite(a.temperature) and a.temperature >= 0):
        raise UserError(f"--temperature must be a finite number, zero or positive, not {a.temperature}")
    try:
        check_seed(a.seed, "--seed")
    except ConfigError as e:
        raise UserError(str(e)) from None
    run = _load(a.run)
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
    imgs = sample_prior(run.model, a.n, temperature=a.temperature, seed=a.seed, label=a.label)
    try:
        save_image(imgs, a.out, nrow=max(1, int(math.ceil(math.sqrt(a.n)))), padding=2, pad_value=0.5)
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"cannot write {a.out}: {e}") from None
    print(f"wrote {a.n} samples to {a.out}")
    return 0


def cmd_datasets(a) -> int:
    from .core.data import list_datasets

    for info in list_datasets(a.data_root):
        state = "available" if info.available else f"unavailable: {info.reason}"
        if info.needs_path:
            state = "needs --data-root PATH"
        print(f"{info.name:16s} {info.title}  [{state}]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vae-studio", description="Train variational autoencoders and see what they learn. "
                                               "With no command, opens the GUI.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    t = sub.add_parser("train", help="train a model headless and save a run folder")
    _add_config_flags(t)
    t.add_argument("--out", required=True, help="run folder to write (a new folder, or a run with --overwrite)")
    t.add_argument("--overwrite", action="store_true", help="replace the run already saved in --out")
    t.add_argument("--config", default=None, metavar="PATH",
                   help="train with the settings of a run folder (or its config.json, or a JSON RunConfig), "
                        "its changes of beta and learning rate during training included")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="test metrics of a saved run")
    e.add_argument("run")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound (0 = skip)")
    e.set_defaults(func=cmd_eval)
    w = sub.add_parser("sweep", conflict_handler="resolve",
                       help="train one run per beta and tabulate every metric (results.csv, results.md)")
    _add_config_flags(w)
    w.add_argument("--beta", required=True, help="comma-separated betas, e.g. 0.5,1,2,4,8")
    w.add_argument("--out", required=True, help="folder for the runs (FOLDER/beta-<v>) and the results table")
    w.add_argument("--iwae-k", type=int, default=100, help="importance samples for the IWAE bound (0 = skip)")
    w.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    w.set_defaults(func=cmd_sweep)
    s = sub.add_parser("sample", help="decode samples from the prior into an image grid")
    s.add_argument("run")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", required=True, help="PNG file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--temperature", type=float, default=1.0, help="scale of the prior's standard deviation")
    s.add_argument("--label", type=int, default=None, help="class for a conditional model")
    s.set_defaults(func=cmd_sample)
    d = sub.add_parser("datasets", help="list data sets and whether they are available here")
    d.add_argument("--data-root", default=None)
    d.set_defaults(func=cmd_datasets)
    return p


def main(argv: list[str] | None = None) -> int:
    """The entry point. Ctrl-C at any moment (even while torch is still being imported) ends with one line."""
    try:
        _tolerant_output()
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)


def _tolerant_output() -> None:
    """A path that is not valid in the output's encoding is printed escaped instead of crashing the print."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError, TypeError):  # None under pythonw, or not a text stream
            pass


def _main(argv: list[str]) -> int:
    if not argv:
        return gui_main()
    try:
        a = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (already printed)
        return int(e.code or 0)
    if a.command is None:
        return gui_main()
    from .core.checkpoint import CheckpointError
    from .core.config import ConfigError
    from .core.data import DataError
    from .core.devices import DeviceError
    from .core.training import TrainingError

    try:
        return a.func(a)
    except (UserError, CheckpointError, ConfigError, DataError, DeviceError, TrainingError) as e:
        return _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)


def gui_main() -> int:
    try:
        from .ui.app import run_app
    except ImportError as e:
        return _fail(f"the GUI cannot start: {e}")
    return run_app(sys.argv[:1])


if __name__ == "__main__":
    sys.exit(main())
