"""Fitting a VQ-VAE's code prior as a plain task function for a :class:`~.tasks.TaskRunner`.

:func:`fit_prior` runs :func:`vae_studio.core.code_prior.fit_code_prior` on a *copy* of the model (never a
model being trained), hands each epoch's :class:`~vae_studio.core.code_prior.PriorProgress` to the GUI as a
partial result (the loss curve), reports progress, and returns the fitted prior (on the CPU), or None when
cancelled.
"""
from __future__ import annotations

from ..core.code_prior import CodePrior, PriorProgress, fit_code_prior


def fit_prior(state, model, data, epochs: int = 10, seed: int = 0, device: str = "cpu", batch_size: int = 128,
              lr: float = 3e-3) -> CodePrior | None:
    prior = None
    batches = max(1, epochs * -(-len(data.train_x) // batch_size))
    done = 0

    def should_stop() -> bool:  # polled before every batch: the progress bar moves within epochs too
        nonlocal done
        state.set_progress(done / batches)
        done += 1
        return state.is_cancelled()

    state.set_status(f"Encoding {len(data.train_x):,} training images to their codes…")
    for ev in fit_code_prior(model, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                             device=device, should_stop=should_stop):
        if isinstance(ev, PriorProgress):
            state.set_partial_result(ev)
            state.set_status(f"Epoch {ev.epoch} of {ev.epochs}: test NLL {ev.test_nll:.1f} nats per image")
        else:
            prior = ev
    return None if state.is_cancelled() else prior
