"""How a run's training steps are executed: eagerly (any device), or replayed from a CUDA graph.

Both executors keep the whole training split on the training device (uint8) and write every step's loss
terms (total, recon, KL per sample, then the objective's own terms) into ``log``, a (steps_per_epoch,
columns) tensor on that device which the trainer reads back once per chunk: no step waits for the host.

:class:`GraphSteps` captures one whole step (gather the batch by a device-side step counter, binarise,
forward, loss, backward, gradient clipping, Adam, log the terms, advance the counter) as a CUDA graph and
replays it for every full batch of an epoch; the last, partial batch runs eagerly on the same weights and
optimiser. The run's own noise generator is registered with the graph, so a replay draws what the eager step
would have drawn, and the two paths give the same losses (tests/gpu). torch also registers its default CUDA
generator with every graph, and refuses draws from it by other threads during the capture (a few
milliseconds at the start of a run): VAE Studio never draws from torch's global generators.

Hyper-parameters that change while a run trains reach the captured step through device tensors that it reads
on every replay: the target beta (:meth:`GraphSteps.set_target_beta`) and the optimiser's learning rate
(a tensor for capturable Adam, see ``training.make_adam``), so no re-capture is needed.
"""
from __future__ import annotations

import torch

WARMUP_STEPS = 3  # eager steps on a side stream before capture (their effects are undone)


def to_float_batch(xb: torch.Tensor, binarize: bool = False, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """uint8 images -> float in [0, 1] (or Bernoulli draws of them, from ``generator``, for dynamic
    binarisation)."""
    x = xb.float().div_(255.0)
    return torch.bernoulli(x, generator=generator) if binarize else x


def log_row(terms) -> torch.Tensor:
    """One step's row of the log: total, recon, KL, then the objective's own terms."""
    return torch.stack([terms.total, terms.recon, terms.kl, *terms.extras.values()]).detach()


def graph_unavailable_reason(device: torch.device) -> str | None:
    """Why the training step cannot be captured as a CUDA graph on ``device`` (None when it can)."""
    if device.type != "cuda":
        return f"CUDA graphs need a CUDA device, not {device.type}"
    if not hasattr(torch.cuda, "CUDAGraph") or not hasattr(torch.cuda.CUDAGraph, "register_generator_state"):
        return f"torch {torch.__version__} cannot register a run's own generator with a CUDA graph"
    return None


class EagerSteps:
    """One eager training step per call of :meth:`step`."""

    graphed = False

    def __init__(self, trainer, x_all: torch.Tensor, y_all: torch.Tensor | None, batch_size: int,
                 n: int | None = None):
        """``n``: the images trained on per epoch (the length of each epoch's order; all of ``x_all`` by
        default, a rank's shard under torchrun)."""
        self.t = trainer
        self.x_all, self.y_all, self.bs = x_all, y_all, batch_size
        self.n = len(x_all) if n is None else n
        self.steps_per_epoch = -(-self.n // batch_size)
        dev = trainer.device
        self.log = torch.zeros(self.steps_per_epoch, len(trainer.history.columns), device=dev)
        sizes = torch.full((self.steps_per_epoch, 1), float(batch_size), device=dev)
        sizes[-1] = self.n - (self.steps_per_epoch - 1) * batch_size
        self._sizes = sizes
        self.perm: torch.Tensor | None = None

    def start_epoch(self, epoch: int, perm: torch.Tensor) -> None:
        """``perm``: this epoch's order of the training images (CPU, from the run's shuffle generator)."""
        self.perm = perm.to(self.t.device)

    def batch(self, i: int):
        idx = self.perm[i * self.bs:(i + 1) * self.bs]
        x = to_float_batch(self.x_all.index_select(0, idx), self.t.data.binarize, self.t.noise_generator)
        return x, (self.y_all.index_select(0, idx) if self.y_all is not None else None)

    def step(self, i: int, beta: float) -> None:
        """Train on batch ``i`` of the epoch and log its loss terms in ``log[i]``."""
        x, y = self.batch(i)
        terms = self.t._train_step(x, y, beta)
        self.log[i] = log_row(terms)

    def set_target_beta(self, beta: float) -> None:
        """The run's target beta changed (eager steps are given their beta with each call)."""

    def epoch_means(self) -> torch.Tensor:
        """(3,) the epoch's loss terms averaged over its samples (on the device)."""
        return (self.log * self._sizes).sum(0) / self.n


class GraphSteps(EagerSteps):
    """Full batches replay a captured CUDA graph; the partial last batch (if any) runs eagerly."""

    graphed = True

    def __init__(self, trainer, x_all, y_all, batch_size, n=None):
        super().__init__(trainer, x_all, y_all, batch_size, n)
        dev = trainer.device
        self.full_batches = self.n // batch_size
        self.perm_static = torch.arange(self.n, device=dev)
        self.pos = torch.zeros(1, dtype=torch.long, device=dev)  # the step within the epoch, advanced in-graph
        self.done_epochs = torch.zeros((), device=dev)  # for the KL warm-up computed in the graph
        self.target_beta = torch.full((), float(trainer.beta), device=dev)  # read by every replay
        self.offsets = torch.arange(batch_size, device=dev)
        self.graph: torch.cuda.CUDAGraph | None = None
        if self.full_batches:
            self._capture()

    # -- the captured step ---------------------------------------------------------------------------
    def _beta(self):
        cfg = self.t.config.train
        if cfg.kl_warmup_epochs <= 0:
            return self.target_beta
        progress = self.done_epochs + (self.pos[0].float() + 1) / self.steps_per_epoch
        return self.target_beta * torch.clamp(progress / cfg.kl_warmup_epochs, max=1.0)

    def _body(self) -> None:
        t = self.t
        idx = self.perm_static.index_select(0, self.pos * self.bs + self.offsets)
        x = to_float_batch(self.x_all.index_select(0, idx), t.data.binarize, t.noise_generator)
        y = self.y_all.index_select(0, idx) if self.y_all is not None else None
        terms = t._loss_terms(x, y, self._beta())
        terms.total.backward()
        t._clip_gradients()
        t.optimizer.step()
        self.log.index_copy_(0, self.pos, log_row(terms).unsqueeze(0))
        self.pos.add_(1)

    def _capture(self) -> None:
        """Warm up on a side stream, capture one step, then undo the warm-up: the weights, the optimiser's
        state and the noise generator are as before, so the run is the one the eager path would train."""
        t = self.t
        model, opt, gen = t.model, t.optimizer, t.noise_generator
        weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        opt_state = {p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)} for p, s in opt.state.items()}
        gen_state = gen.get_state()
        try:
            self.graph = self._record()
        finally:
            with torch.no_grad():
                model.load_state_dict(weights)  # in place: the graph keeps pointing at the parameters
                for p, s in opt.state.items():
                    saved = opt_state.get(p, {})
                    for k, v in s.items():
                        if not torch.is_tensor(v):
                            continue
                        if k in saved:
                            v.copy_(saved[k])
                        else:
                            v.zero_()  # Adam's state at step 0 is all zeros
            gen.set_state(gen_state)
            self.pos.zero_()
            self.log.zero_()
        t._grads_to_none = False  # eager steps must keep the graph's gradient tensors

    def _record(self) -> torch.cuda.CUDAGraph:
        """Warm-up steps on a side stream, then one step captured (recorded, not run)."""
        t = self.t
        dev, opt = t.device, t.optimizer
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(t.noise_generator)
        side = torch.cuda.Stream(device=dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                opt.zero_grad(set_to_none=True)
                self._body()
        torch.cuda.current_stream(dev).wait_stream(side)
        # gradients allocated by the capture live in the graph's pool and are overwritten by every replay
        opt.zero_grad(set_to_none=True)
        # thread_local: a decode or metrics thread using the GPU meanwhile is not an error
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            self._body()
        return graph

    def _replay(self) -> None:
        self.graph.replay()

    # -- per epoch and per step ------------------------------------------------------------------------
    def start_epoch(self, epoch: int, perm: torch.Tensor) -> None:
        super().start_epoch(epoch, perm)
        self.perm_static.copy_(self.perm)
        self.pos.zero_()
        self.done_epochs.fill_(epoch - 1)

    def set_target_beta(self, beta: float) -> None:
        self.target_beta.fill_(beta)

    def step(self, i: int, beta: float) -> None:
        if i < self.full_batches and self.graph is not None:
            self._replay()
        else:
            super().step(i, beta)
