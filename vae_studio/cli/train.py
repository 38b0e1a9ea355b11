"""`vae-studio train`: train one run headless and save its run folder."""
from __future__ import annotations

from .common import (EXIT_INTERRUPTED, UserError, add_config_flags, config_from_args, config_from_file, fail,
                     train_run)


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model headless and save a run folder")
    add_config_flags(t)
    t.add_argument("--out", required=True, help="run folder to write (a new folder, or a run with --overwrite)")
    t.add_argument("--overwrite", action="store_true", help="replace the run already saved in --out")
    t.add_argument("--ddp-timeout", type=float, default=None, metavar="SECONDS",
                   help="under torchrun: how long a process waits for the others before the job fails "
                        "(default 600)")
    t.add_argument("--config", default=None, metavar="PATH",
                   help="train with the settings of a run folder (or its config.json, or a JSON RunConfig), "
                        "its changes of beta and learning rate during training included")
    t.set_defaults(func=run)


def setting_flags_given(a) -> list[str]:
    """The setting flags of ``train`` given on the command line (their values differ from the defaults)."""
    defaults = vars(_parser().parse_args(["train", "--out", "-"]))
    skip = {"out", "overwrite", "config", "ddp_timeout", "func", "command"}
    return sorted(f"--{k.replace('_', '-')}" for k, v in vars(a).items() if k not in skip and v != defaults.get(k))


def run(a) -> int:
    if a.config is not None:
        given = setting_flags_given(a)
        if given:
            raise UserError(f"--config gives every setting; leave out {', '.join(given)}")
        config = config_from_file(a.config)
    else:
        config = config_from_args(a)
    from ..core.distributed import DEFAULT_TIMEOUT_S, launched_by_torchrun

    if launched_by_torchrun():
        from .torchrun import leave, train_under_torchrun

        timeout = DEFAULT_TIMEOUT_S if a.ddp_timeout is None else a.ddp_timeout
        leave(train_under_torchrun(config, a.out, a.overwrite, timeout))
    if a.ddp_timeout is not None:
        raise UserError("--ddp-timeout applies only under torchrun")
    trained = train_run(config, a.out, overwrite=a.overwrite, ctrl_c_stops=True)
    if trained.history.status == "diverged":
        raise UserError(trained.history.message)
    if trained.history.status == "stopped":
        return fail(f"stopped by Ctrl-C after {len(trained.history.epochs)} epochs ({trained.history.message}); the run "
                     f"trained so far was saved to {a.out}", EXIT_INTERRUPTED)
    return 0


def _parser():
    from . import build_parser

    return build_parser()
