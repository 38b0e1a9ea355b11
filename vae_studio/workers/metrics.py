"""A run's quality metrics as a plain task function for a queue-mode :class:`~.tasks.TaskRunner`.

:func:`compute_metrics` runs :func:`vae_studio.core.metrics.evaluate_run` on a *copy* of the model (never a
model being trained) and returns its dict of plain floats and lists; it stops at the next batch when the task
state is cancelled (a run's new weights, the run removed, the window closing) and then returns None.
"""
from __future__ import annotations

import torch

from ..core.metrics import Cancelled, evaluate_run


def compute_metrics(state, model, data, recon: str, beta: float, gamma: float, iwae_k: int = 100,
                    seed: int = 0, config=None, steps_done: int = 0) -> dict | None:
    """Every metric that applies to ``model`` on ``data`` (an ImageData), with the run's own objective's terms
    when its ``config`` is given (a copy: see evaluate_run); None if cancelled."""
    try:
        with torch.inference_mode():
            return evaluate_run(model, data, recon=recon, beta=beta, gamma=gamma, iwae_k=iwae_k, seed=seed,
                                should_stop=state.is_cancelled, config=config, steps_done=steps_done)
    except Cancelled:
        return None
