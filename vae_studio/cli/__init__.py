"""``vae-studio``: no arguments opens the GUI; subcommands run headless on the same core.

One module per command (``train``, ``eval``, ...), each with ``add_parser(sub)`` and ``run(args)``; adding a
command is a module and a line in ``COMMANDS``. Every failure a user can cause ends with one line on stderr
and a non-zero exit, never a traceback. No Qt is imported unless the GUI is asked for.
"""
from __future__ import annotations

import sys

from . import datasets, evaluate, export, fit_prior, sample, sweep, train
from .common import EXIT_INTERRUPTED, Parser, UserError, fail

COMMANDS = (train, evaluate, sweep, sample, fit_prior, export, datasets)


def build_parser() -> Parser:
    p = Parser(prog="vae-studio", description="Train variational autoencoders and see what they learn. "
                                              "With no command, opens the GUI.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """The entry point. Ctrl-C at any moment (even while torch is still being imported) ends with one line."""
    try:
        _tolerant_output()
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)


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
    from ..core.checkpoint import CheckpointError
    from ..core.config import ConfigError
    from ..core.data import DataError
    from ..core.devices import DeviceError
    from ..core.training import TrainingError

    try:
        return a.func(a)
    except (UserError, CheckpointError, ConfigError, DataError, DeviceError, TrainingError) as e:
        return fail(str(e).splitlines()[0] if str(e) else type(e).__name__)


def gui_main() -> int:
    try:
        from ..ui.app import run_app
    except ImportError as e:
        return fail(f"the GUI cannot start: {e}")
    return run_app(sys.argv[:1])
