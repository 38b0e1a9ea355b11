"""Data-parallel training under ``torchrun``: PyTorch's DistributedDataParallel, gloo on the CPU, NCCL on CUDA.

``torchrun --nproc-per-node=N --no-python vae-studio train ...`` starts N copies of the command with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment (:func:`launched_by_torchrun`). Each copy builds the
same run (same seed, same initial weights) and trains it with a :class:`DataParallel` handed to the
:class:`~vae_studio.core.training.Trainer`, which asks it for the few things that differ from one process:

- ``shard``: every epoch all ranks draw the same permutation from the run's shuffle generator, and rank r
  takes every N-th index from r on (DistributedSampler's split). Batch i of all ranks together is then
  exactly batch i of one process with an N times bigger batch; ``n % N`` images (random ones, a different
  few each epoch) sit an epoch out so that every rank takes the same number of steps.
- ``wrap``: the model the training step calls is wrapped in DistributedDataParallel, which all-reduces
  (averages) the gradients during the backward pass and broadcasts module buffers from rank 0; the plain
  model stays the run's model (snapshots, evaluation, saving).
- ``average_``: the logged losses are averaged over the ranks before the trainer reads them, so the history,
  the progress line and the NaN guard see the loss of the whole global batch, the same on every rank (a loss
  that stops being finite stops every rank at the same step).
- ``is_main``: rank 0 alone evaluates on the whole test split and writes the run folder (the CLI's part).
- the reparameterisation noise of rank r comes from the run's seed + r (the ranks see different images, so
  they draw different noise).

The CUDA-graph path stays off under DDP (its all-reduce would have to be captured too); steps run eagerly.

Failures: the process group has a timeout (a rank that stops answering ends the others' collectives with an
error instead of a hang) and :meth:`DataParallel.together` makes every rank agree on whether a block (loading
the data, checking the destination) worked, so a setting that fails fails everywhere with one message.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass

import torch

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
DEFAULT_TIMEOUT_S = 600  # a collective waiting longer than this for another rank fails (no hang)


class DistributedError(RuntimeError):
    """The data-parallel job cannot go on (bad launch, a rank that failed or stopped answering)."""


class PeerFailed(DistributedError):
    """Another rank failed; it (or rank 0) reports why, this rank just stops."""


def launched_by_torchrun(environ=None) -> bool:
    """Whether this process is one of the workers that ``torchrun`` started (its variables are set)."""
    environ = os.environ if environ is None else environ
    return all(environ.get(k) for k in ENV_VARS)


@dataclass(frozen=True)
class SingleProcess:
    """Training in one process: what the trainer asks of :class:`DataParallel`, all no-ops."""

    rank: int = 0
    world_size: int = 1
    distributed: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def place(self, device: torch.device) -> torch.device:
        return device

    def shard_size(self, n: int) -> int:
        return n

    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        return perm

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def average_(self, t: torch.Tensor) -> torch.Tensor:
        return t

    @contextlib.contextmanager
    def together(self):
        yield


SINGLE_PROCESS = SingleProcess()


# -- what a model or objective keeps in step across the ranks by itself (no-ops in one process) ----------

def _group_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def all_reduce_sum_(t: torch.Tensor) -> torch.Tensor:
    """Replace ``t`` (in place) by its sum over the ranks of a torchrun job; unchanged in one process. For
    statistics a module updates by itself (a VQ-VAE's EMA counts and sums), so every rank updates its copy
    from the whole global batch and the copies never drift apart."""
    if _group_size() > 1:
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_(t: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Replace ``t`` (in place) on every rank by rank ``src``'s; unchanged in one process. For random choices
    a module makes by itself (a VQ-VAE's dead-code restarts), so every rank makes the same one."""
    if _group_size() > 1:
        import torch.distributed as dist

        dist.broadcast(t, src)
    return t


def average_gradients_(module: torch.nn.Module) -> None:
    """Average the gradients of ``module``'s parameters over the ranks (what DDP does for the model), for a
    second network with its own optimiser (FactorVAE's discriminator); nothing in one process."""
    world = _group_size()
    if world > 1:
        for p in module.parameters():
            if p.grad is not None:
                all_reduce_sum_(p.grad).div_(world)


@dataclass(frozen=True)
class DataParallel(SingleProcess):
    """One rank of a torchrun job (see the module's notes). Build it with :func:`start`."""

    local_rank: int = 0
    backend: str = "gloo"
    distributed: bool = True

    def place(self, device: torch.device) -> torch.device:
        """Each process trains on the GPU of its local rank (``cuda`` means ``cuda:LOCAL_RANK``)."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def shard_size(self, n: int) -> int:
        return n // self.world_size

    def shard(self, perm: torch.Tensor) -> torch.Tensor:
        return perm[self.rank::self.world_size][:self.shard_size(len(perm))]

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        dev = next(model.parameters()).device
        # buffers are synchronised from rank 0 at every forward (DDP's default)
        return DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    def average_(self, t: torch.Tensor) -> torch.Tensor:
        """Replace ``t`` (in place) by its mean over the ranks; returns it."""
        import torch.distributed as dist

        buf = t.contiguous()
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        buf.div_(self.world_size)
        if buf.data_ptr() != t.data_ptr():
            t.copy_(buf)
        return t

    @contextlib.contextmanager
    def together(self):
        """Run a block on every rank; if it raises on any rank, it fails on all of them: rank 0 raises its own
        exception or a :class:`DistributedError` naming the rank that failed, the other ranks raise
        :class:`PeerFailed` (they stay quiet: one message for the job)."""
        import torch.distributed as dist

        error: BaseException | None = None
        try:
            yield
        except Exception as e:  # noqa: BLE001 - every failure is shared, then raised again
            error = e
        gathered: list = [None] * self.world_size
        text = None if error is None else (str(error).strip().splitlines() or [type(error).__name__])[0]
        dist.all_gather_object(gathered, text)
        failed = [(r, t) for r, t in enumerate(gathered) if t is not None]
        if not failed:
            return
        if not self.is_main:
            raise PeerFailed(failed[0][1])
        if error is not None:
            raise error
        rank, text = failed[0]
        raise DistributedError(f"rank {rank} of {self.world_size}: {text}")


def start(device_name: str, timeout_s: float = DEFAULT_TIMEOUT_S, environ=None) -> DataParallel:
    """Join the torchrun job this process belongs to: NCCL when the run trains on CUDA, else gloo; every
    collective fails after ``timeout_s`` without an answer. Raises DistributedError with one line."""
    import torch.distributed as dist

    environ = os.environ if environ is None else environ
    try:
        rank, world, local = (int(environ[k]) for k in ENV_VARS)
    except (KeyError, ValueError):
        raise DistributedError(f"torchrun's variables {', '.join(ENV_VARS)} must be integers") from None
    if not (0 <= rank < world and 0 <= local):
        raise DistributedError(f"RANK {rank} does not fit WORLD_SIZE {world}")
    if not (timeout_s > 0):
        raise DistributedError("the DDP timeout must be a positive number of seconds")
    try:
        cuda = torch.device(device_name).type == "cuda"
    except (RuntimeError, TypeError):
        cuda = False  # the device is refused later with resolve_device's own message
    if cuda:
        if not torch.cuda.is_available() or local >= torch.cuda.device_count():
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            raise DistributedError(f"local rank {local} needs cuda:{local}, but this machine has {n} CUDA "
                                   f"device(s): start at most {n} processes per node, or train on the CPU")
        if torch.device(device_name).index not in (None, local):
            raise DistributedError(f"under torchrun each process trains on the GPU of its local rank: use "
                                   f"--device cuda, not {device_name}")
        torch.cuda.set_device(local)
    backend = "nccl" if cuda else "gloo"
    timeout = datetime.timedelta(seconds=timeout_s)
    try:
        if cuda:
            dist.init_process_group(backend, timeout=timeout, device_id=torch.device("cuda", local))
        else:
            dist.init_process_group(backend, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - rendezvous failures come in many types
        raise DistributedError(f"cannot join the torchrun job: {str(e).strip().splitlines()[0]}") from None
    return DataParallel(rank=rank, world_size=world, local_rank=local, backend=backend)


def barrier() -> None:
    """Wait until every rank of the job gets here (nothing in one process)."""
    if _group_size() > 1:
        import torch.distributed as dist

        dist.barrier()


def stop() -> None:
    """Leave the job (idempotent)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        import gc

        gc.collect()  # DDP wrappers in reference cycles let go of the process group first
        dist.destroy_process_group()


def is_collective_failure(error: BaseException) -> bool:
    """Whether ``error`` came from a collective that another rank left unanswered (it died, or timed out)."""
    import torch.distributed as dist

    text = str(error).lower()
    return isinstance(error, (PeerFailed, dist.DistError)) or (isinstance(error, RuntimeError) and any(
        w in text for w in ("gloo", "nccl", "connection reset", "connection closed", "timed out", "timeout")))


def cpu_warning(parallel: DataParallel) -> str | None:
    """The warning for DDP on the CPU of a machine without a GPU (None elsewhere)."""
    if parallel.backend == "gloo" and not torch.cuda.is_available():
        return (f"DDP on the CPU gives no speed-up on one machine: the {parallel.world_size} processes share "
                "its cores. It is there for several machines (torchrun's --nnodes) and for GPUs")
    return None
