"""`vae-studio train` as one process of a ``torchrun`` job (DistributedDataParallel, core/distributed.py).

``torchrun --nproc-per-node=N --no-python vae-studio train ...``: every process runs this with the same flags;
``--batch-size`` is per process, so the global batch is N x batch. Rank 0 prints the progress, evaluates and
writes the run folder. Messages, one per cause: a setting that fails fails on every rank and rank 0 says so;
a rank that fails alone says why, and rank 0 says that the job stopped; a rank that dies or stops answering
(past ``--ddp-timeout``) ends the others' collectives with an error, never a hang. Ctrl-C aborts the job
(stopping after the current step, as a single-process run does, would need every rank to agree on the step).
"""
from __future__ import annotations

import os
import re
import signal
import sys

from .common import EXIT_FAIL, EXIT_INTERRUPTED, UserError, fail, train_run

JOB_STOPPED = "the DDP job stopped: another process of it failed or stopped answering"


def _one_line(e: BaseException) -> str:
    """The first sentence of an error, without gloo's "[/path/pair.cc:561] " prefix."""
    text = str(e).strip().splitlines()
    line = re.sub(r"^\[[^\]]*\]\s*", "", text[0]) if text else ""
    return line.split(". ")[0].rstrip(".") or type(e).__name__


def train_under_torchrun(config, out: str, overwrite: bool, timeout_s: float) -> int:
    from ..core import distributed

    rank = int(os.environ.get("RANK", "0") or 0)
    try:
        par = distributed.start(config.train.device, timeout_s)
    except distributed.DistributedError as e:  # the same on every rank: rank 0 says it
        return fail(str(e)) if rank == 0 else EXIT_FAIL

    def on_sigterm(_signum, _frame):  # torchrun ends the other workers when one fails
        raise distributed.PeerFailed("stopped by torchrun")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        warning = distributed.cpu_warning(par)
        if warning and par.is_main and sys.stderr is not None:
            print(f"warning: {warning}", file=sys.stderr)
        trained = train_run(config, out, overwrite=overwrite, parallel=par)
        # every rank leaves together: one that tears its process group down while rank 0 still evaluates and
        # saves can abort in gloo's teardown ("terminate called without an active exception")
        distributed.barrier()
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED) if par.is_main else EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - sorted below into the one message the job gives
        if isinstance(e, distributed.PeerFailed) or distributed.is_collective_failure(e):
            if par.is_main:
                detail = "" if isinstance(e, distributed.PeerFailed) and not e.args[0] else f" ({_one_line(e)})"
                return fail(JOB_STOPPED + detail)
            return EXIT_FAIL
        if par.is_main:
            raise  # reported as a single-process run reports it
        return fail(f"rank {par.rank} of {par.world_size}: {_one_line(e)}")
    finally:
        signal.signal(signal.SIGTERM, previous)
        distributed.stop()
    if trained.history.status == "diverged":
        if par.is_main:
            raise UserError(trained.history.message)
        return EXIT_FAIL
    return 0


def leave(code: int) -> None:
    """End a torchrun worker with ``code`` once its work is done and its files are written (they are flushed
    and fsynced by the save), without the interpreter's teardown: objects that still reference gloo's
    threads are freed there in no particular order, and now and then one of those threads is destroyed while
    joinable, which aborts the process ("terminate called without an active exception") and fails the job
    after it has succeeded."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(code)
