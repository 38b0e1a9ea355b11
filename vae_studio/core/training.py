"""The training engine: one generator that the CLI and the GUI's worker both iterate.

``Trainer(config, data).iter_train()`` yields small records: :class:`StepChunk` (the losses of the last
few steps, synchronised with the device once per chunk rather than every step), :class:`EpochEnd` (train
and test metrics of an epoch) and, if the loss stops being finite, :class:`Diverged` (the last good weights
are restored before it is yielded). Pause, resume and stop go through a :class:`TrainControl` that the
loop checks between steps. The trainer knows nothing of who listens.

Beta and the learning rate can change while a run trains: :meth:`TrainControl.set_hyperparameters` asks
for new values from any thread, and the config's ``train.schedule`` (rows of [step, beta, lr]) replays
earlier changes. Either is applied between two steps, recorded in ``History.changes``, added to the
config's schedule (so the run's config reproduces the run) and yielded as a :class:`HyperparametersChanged`.
A new beta replaces the *target* beta: during a KL warm-up the ramp goes on towards the new value.
"""
from __future__ import annotations

import contextlib
import math
import time
from typing import Iterator

import numpy as np
import torch

from .config import RunConfig
from .data import ImageData
from .devices import resolve_device
from .distributed import SINGLE_PROCESS, SingleProcess
from .metrics import evaluate_elbo
from .models import build_model
from .objectives.base import ObjectiveStep
from .steps import EagerSteps, GraphSteps, graph_unavailable_reason
from .training_events import (BASE_COLUMNS, Diverged, EpochEnd, History, HyperparametersChanged, StepChunk,
                              TrainControl, TrainEvent)
from .variants import get_variant


class TrainingError(RuntimeError):
    """Training cannot go on (out of memory, bad setting found late); the message says what to do."""


def make_adam(params, lr: float, capturable: bool = False) -> torch.optim.Adam:
    """Adam with the fused kernel where this torch and device have one (CPU and CUDA since torch 2.4): one
    kernel over all parameters instead of a dozen small ops each, about 25% less time per step for the
    documents' MLP on this CPU (benchmarks/train_speed.py). Same update rule, so the same losses.
    ``capturable``: its state stays on the device so that a CUDA graph can capture its step; the learning
    rate is then a device tensor too, so that changing it in place (:func:`set_lr`) reaches a captured
    step (a Python float would be baked into the graph)."""
    params = list(params)
    extra = {"capturable": True} if capturable else {}
    if capturable and params:
        lr = torch.tensor(float(lr), device=params[0].device)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, **extra)
    except (RuntimeError, TypeError, ValueError):  # an older torch, or a device without the fused kernel
        return torch.optim.Adam(params, lr=lr, **extra)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group (in place where it is a tensor, see make_adam)."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


class Trainer:
    """Holds the model, optimiser and history of one run and trains it with :meth:`iter_train`."""

    def __init__(self, config: RunConfig, data: ImageData, control: TrainControl | None = None,
                 log_every: int = 20, cuda_graph: bool | None = None, bf16: bool = False,
                 chunk_seconds: float | None = None, parallel: SingleProcess = SINGLE_PROCESS):
        """``log_every``: most steps per :class:`StepChunk` (each reads the losses back from the device once).
        ``chunk_seconds``: also cut a chunk when this long has passed since the last one (the GUI's curves
        move at a steady pace whether a step takes 0.1 ms or 100 ms); None: by step count only.
        ``cuda_graph``: on a CUDA device the training step is captured as a CUDA graph and replayed
        (``None``, the default: where this torch can, falling back to eager steps if the capture fails;
        ``True``: required, a failed capture is an error; ``False``: eager steps).
        ``bf16``: the network's forward and backward passes run under bfloat16 autocast (the loss, the noise
        and the weights stay float32): about 2x faster matrix products on CPUs with AVX512-BF16 or AMX and on
        recent GPUs; benchmarks/bf16_quality.py shows the test -ELBO it reaches.
        ``parallel``: this process's part of a torchrun job (core/distributed.py): its shard of each epoch,
        the DDP wrapper, losses averaged over the ranks, the test split evaluated on rank 0 only. The default
        trains in one process."""
        self.config = config
        self.parallel = parallel
        self.data = data
        self.control = control or TrainControl()
        self.log_every = max(1, log_every)
        self.chunk_seconds = chunk_seconds
        m = config.model
        m.image_size, m.channels, m.num_classes = data.image_size, data.channels, data.num_classes
        config.validate()
        self.device = parallel.place(resolve_device(config.train.device))
        seed = config.train.seed
        # Every random draw of the run comes from its own generators, never torch's global one (which other
        # threads, decoding or estimating metrics, also draw from): the initial weights (a CPU generator, so
        # they are the same on every device), the epochs' shuffles (CPU) and the reparameterisation noise and
        # binarisation draws (on the training device).
        self.variant = get_variant(m.kind)
        self.model = build_model(m, seed=seed).to(self.device)
        self.objective = self.variant.make_objective(config, len(data.train_x), self.device)
        self.shuffle_generator = torch.Generator().manual_seed(seed)
        self.noise_generator = torch.Generator(device=self.device).manual_seed(seed + parallel.rank)
        # under torchrun, the model and its objective as one module wrapped in DDP (which all-reduces the
        # gradients); made when training starts, so that building a Trainer involves no other process
        self.step_model: torch.nn.Module | None = None
        if parallel.distributed:  # DDP's all-reduce is not captured: the steps run eagerly
            if cuda_graph:
                raise TrainingError("cannot train with a CUDA graph under torchrun: DDP steps run eagerly")
            cuda_graph = False
        reason = graph_unavailable_reason(self.device)
        if cuda_graph and reason is not None:
            raise TrainingError(f"cannot train with a CUDA graph: {reason}")
        self.cuda_graph = cuda_graph
        self.bf16 = bool(bf16)
        self.graphed = False  # whether the running loop replays a CUDA graph (set by iter_train)
        self.graph_note = ""  # why a CUDA run trains eagerly after all, if it does
        self._grads_to_none = True
        self.optimizer = make_adam(self.objective.model_parameters(self.model), config.train.lr,
                                   capturable=cuda_graph is not False and reason is None)
        self.history = History(columns=[*BASE_COLUMNS, *self.objective.terms])
        self.epoch = 0
        self.step = 0
        self.beta = float(config.train.beta)  # the target beta now (the KL warm-up ramps towards it)
        self.lr = float(config.train.lr)  # the learning rate now
        self._replay = [list(r) for r in config.train.schedule]  # changes still to replay, by step

    # -- weights kept for the NaN guard -------------------------------------------------------------
    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _restore_last_good(self, snaps: list[tuple[int, dict]]) -> int:
        """Load the newest snapshot whose weights are all finite; returns its step."""
        for step, snap in reversed(snaps):
            if all(bool(torch.isfinite(v).all()) for v in snap.values() if v.is_floating_point()):
                self.model.load_state_dict(snap)
                return step
        raise TrainingError("no finite weights to go back to")

    def _make_steps(self, x_all, y_all, bs: int) -> EagerSteps:
        """The CUDA-graph executor where it can be used (and was not turned off), else the eager one."""
        n = self.parallel.shard_size(len(x_all))
        if self.cuda_graph is False or graph_unavailable_reason(self.device) is not None:
            return EagerSteps(self, x_all, y_all, bs, n)
        if not self.objective.graph_safe:
            self.graph_note = f"trained eagerly: the {self.variant.name} step cannot be captured as a CUDA graph"
            return EagerSteps(self, x_all, y_all, bs, n)
        try:
            return GraphSteps(self, x_all, y_all, bs, n)
        except torch.cuda.OutOfMemoryError:
            raise
        except RuntimeError as e:  # a capture this torch or driver refuses: train eagerly instead
            if self.cuda_graph:
                raise TrainingError(f"the training step cannot be captured as a CUDA graph: {e}") from None
            self.graph_note = f"trained eagerly: CUDA graph capture failed ({str(e).splitlines()[0]})"
            self._grads_to_none = False  # the failed capture may have left gradients in its pool
            # a failed capture can leave a registered generator in its capturing state: go on with a fresh
            # one at the same point of the stream
            fresh = torch.Generator(device=self.device)
            fresh.set_state(self.noise_generator.get_state())
            self.noise_generator = fresh
            return EagerSteps(self, x_all, y_all, bs, n)

    def iter_train(self) -> Iterator[TrainEvent]:
        cfg, data, ctl = self.config.train, self.data, self.control
        dev, par = self.device, self.parallel
        n_all = len(data.train_x)
        n = par.shard_size(n_all)  # the images this process trains on per epoch
        bs = min(cfg.batch_size, n)
        steps_per_epoch = (n + bs - 1) // bs
        self.history.status = "running"
        self.model.train()
        try:
            if par.distributed and self.step_model is None:
                self.step_model = par.wrap(ObjectiveStep(self.model, self.objective))
            x_all = data.train_x.to(dev)
            y_all = data.train_y.to(dev) if (data.train_y is not None and self.model.conditional) else None
            steps = self._make_steps(x_all, y_all, bs)
            self.graphed = steps.graphed and getattr(steps, "graph", None) is not None
            snaps: list[tuple[int, dict]] = [(self.step, self._snapshot())]

            def flush(k0: int, k1: int, epoch: int, beta: float):
                """Read steps k0..k1-1 of the epoch back from the device at once; check them; returns the
                chunk, or a Diverged after going back to the last good weights."""
                rows = par.average_(steps.log[k0:k1]).cpu().numpy().astype(np.float64)
                at_steps = np.arange(self.step - (k1 - k0) + 1, self.step + 1)
                bad = ~np.isfinite(rows).all(axis=1)
                if bad.any():
                    at = int(at_steps[np.argmax(bad)])
                    kept = self._restore_last_good(snaps)
                    msg = (f"the loss became {rows[np.argmax(bad)][0]} at epoch {epoch}, step {at}; "
                           f"training stopped and the weights of step {kept} are kept. "
                           "Try a lower learning rate or gradient clipping.")
                    self.history.status, self.history.message = "diverged", msg
                    return Diverged(epoch, at, msg)
                self.history.steps.extend([[int(s), *map(float, r)] for s, r in zip(at_steps, rows)])
                snaps.append((self.step, self._snapshot()))
                del snaps[:-2]
                return StepChunk(epoch, at_steps, rows, steps_per_epoch, beta, tuple(self.history.columns))

            while self.epoch < cfg.epochs:
                epoch = self.epoch + 1
                t0 = time.perf_counter()
                steps.start_epoch(epoch, par.shard(torch.randperm(n_all, generator=self.shuffle_generator)))
                k0, beta = 0, cfg.beta  # k0: the first step of the epoch not yet read back
                t_read = time.perf_counter()
                for i in range(steps_per_epoch):
                    if ctl.paused or ctl.stop_requested:
                        if i > k0:
                            ev = flush(k0, i, epoch, beta)
                            k0 = i
                            yield ev
                            if isinstance(ev, Diverged):
                                return
                        ctl.wait_while_paused()
                        if ctl.stop_requested:
                            self.history.status = "stopped"
                            self.history.message = f"stopped by the user at epoch {epoch}, step {self.step}"
                            return
                    change = self._take_change(epoch)
                    if change is not None:
                        steps.set_target_beta(self.beta)
                        yield HyperparametersChanged(change)
                    beta = self._beta_at(epoch - 1 + (i + 1) / steps_per_epoch)
                    steps.step(i, beta)
                    self.step += 1
                    if i + 1 - k0 == self.log_every or (
                            self.chunk_seconds is not None and time.perf_counter() - t_read >= self.chunk_seconds):
                        t_read = time.perf_counter()
                        ev = flush(k0, i + 1, epoch, beta)
                        k0 = i + 1
                        yield ev
                        if isinstance(ev, Diverged):
                            return
                if steps_per_epoch > k0:
                    ev = flush(k0, steps_per_epoch, epoch, beta)
                    yield ev
                    if isinstance(ev, Diverged):
                        return
                self.epoch = epoch
                train = steps.epoch_means().tolist()
                train_seconds = time.perf_counter() - t0
                columns = self.history.columns
                if par.is_main:  # under torchrun rank 0 alone evaluates (and saves); the others skip it
                    test = evaluate_elbo(self.model, data.test_x, data.test_y, beta=self.beta, gamma=cfg.gamma,
                                         recon=cfg.recon, seed=cfg.seed)
                    if self.objective.terms:  # the variant's own total and terms on the test split
                        own = self.objective.evaluate(self.model, data.test_x, data.test_y, self.beta, seed=cfg.seed)
                        test.update({k: own[k] for k in ("total", *self.objective.terms)})
                else:
                    test = {**dict.fromkeys((*columns, "neg_elbo"), math.nan), "kl_per_dim": []}
                self.model.train()
                record = {"epoch": epoch, "step": self.step, "beta": beta, "lr": self.lr,
                          **{f"train_{c}": v for c, v in zip(columns, train)},
                          **{f"test_{c}": test[c] for c in columns},
                          "test_neg_elbo": test["neg_elbo"], "test_kl_per_dim": test["kl_per_dim"],
                          "train_seconds": train_seconds, "seconds": time.perf_counter() - t0}
                self.history.epochs.append(record)
                yield EpochEnd(epoch, record)
            self.history.status = "finished"
        except torch.cuda.OutOfMemoryError:
            self.history.status = "stopped"
            self.history.message = f"out of GPU memory at batch size {bs}"
            raise TrainingError(f"out of GPU memory on {dev} at batch size {bs}: "
                                "try a smaller batch size or the CPU") from None
        finally:
            self.model.eval()

    def _beta_at(self, progress_epochs: float) -> float:
        w = self.config.train.kl_warmup_epochs
        if w <= 0:
            return self.beta
        return self.beta * min(1.0, progress_epochs / w)

    # -- hyper-parameter changes -----------------------------------------------------------------------
    def _take_change(self, epoch: int) -> dict | None:
        """Apply the schedule's rows due at this step, then what the control asks for; returns the change
        recorded in the history (None when nothing changed)."""
        requested = self.control.take_hyperparameters()
        if not requested and not (self._replay and self._replay[0][0] <= self.step):
            return None  # every step asks: the common answer costs no allocation
        values = {}
        while self._replay and self._replay[0][0] <= self.step:
            _step, beta, lr = self._replay.pop(0)
            values = {"beta": float(beta), "lr": float(lr)}
        values.update(requested)
        beta, lr = values.get("beta", self.beta), values.get("lr", self.lr)
        if beta == self.beta and lr == self.lr:
            return None
        return self.apply_change(epoch, beta, lr)

    def apply_change(self, epoch: int, beta: float, lr: float) -> dict:
        """Train with ``beta`` and ``lr`` from the next step on; record it in the history and in the config's
        schedule (one row per step: a second change at the same step replaces the first)."""
        self.beta, self.lr = float(beta), float(lr)
        set_lr(self.optimizer, self.lr)
        change = {"step": self.step, "epoch": epoch, "beta": self.beta, "lr": self.lr}
        changes = self.history.changes
        if changes and changes[-1]["step"] == self.step:
            changes[-1] = change
        else:
            changes.append(change)
        t = self.config.train
        # a new list, swapped in at once: another thread may be copying the config (saving the run)
        t.schedule = sorted([r for r in t.schedule if r[0] != self.step] + [[self.step, self.beta, self.lr]])
        return change

    def _autocast(self):
        """The precision the network runs at: bfloat16 autocast with ``bf16`` (no cast cache: each weight is
        used once per pass, and a CUDA graph must not keep cached casts), float32 otherwise."""
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)
        return contextlib.nullcontext()

    def _loss_terms(self, x, y, beta):
        """Forward pass and loss of one batch (the variant's objective; under torchrun inside DDP's forward);
        ``beta`` is a float or a device scalar."""
        if self.step_model is not None:
            return self.step_model(x, y, beta, self.noise_generator, self._autocast)
        return self.objective.loss(self.model, x, y, beta, self.noise_generator, self._autocast)

    def _clip_gradients(self) -> None:
        if self.config.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)

    def _train_step(self, x, y, beta: float):
        terms = self._loss_terms(x, y, beta)
        self.optimizer.zero_grad(set_to_none=self._grads_to_none)
        terms.total.backward()
        self._clip_gradients()
        self.optimizer.step()
        self.objective.after_step(self.model, x, y, self.noise_generator)
        return terms

    def train(self, on_event=None) -> History:
        """Run :meth:`iter_train` to the end, passing every event to ``on_event`` (if given)."""
        for ev in self.iter_train():
            if on_event is not None:
                on_event(ev)
        return self.history
