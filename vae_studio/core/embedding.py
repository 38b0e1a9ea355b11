"""t-SNE and UMAP views of a split's latent means: for display, and approximate both ways.

PCA and two latent dimensions are exact views: a plot position lifts back to a latent vector by a formula.
t-SNE (openTSNE) and UMAP (umap-learn) bend the space to keep neighbours together, and have no inverse.
:class:`Embedding` keeps the 2-D layout with the latent means it was fitted on, and maps both ways by
neighbours, which is what the latent panel says in words:

* plot -> latent (:meth:`Embedding.lift`, the probe): inverse-distance weighting of the latent means of the
  ``k`` embedded points nearest to the plot position (:func:`idw_lift`); on a point, its own mean;
* latent -> plot for the probe (:meth:`Embedding.place`): the same weighting the other way, over the ``k``
  means nearest in latent space (cheap, on the GUI thread);
* latent -> plot for new points, the user's own images (:meth:`Embedding.transform`): the method's own
  transform (openTSNE's optimisation against the fitted points, UMAP's ``transform``), in the background.

:func:`fit_embedding` is a task function (``fn(state, ...)``, see ``workers/tasks.py``): it reports progress,
and stops when ``state.is_cancelled()`` (t-SNE at its next 10 iterations; UMAP before or after its
layout optimisation, which cannot be interrupted: see :class:`_UmapProgress`). Both libraries are optional (the ``projections`` extra) and are
imported only inside it, on the worker's thread: umap-learn imports numba and compiles on first use (seconds).
"""
from __future__ import annotations

import importlib.util
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

TSNE, UMAP = "tsne", "umap"
# method -> (name shown, module imported, package to install)
METHODS = {TSNE: ("t-SNE", "openTSNE", "openTSNE"), UMAP: ("UMAP", "umap", "umap-learn")}
EXTRA_HINT = "pip install 'vae-studio[projections]'"
MIN_POINTS = 10
NEIGHBOURS = 8  # embedded points weighed by lift and place
TSNE_EXAGGERATION_ITER, TSNE_ITER = 250, 500


class EmbeddingError(ValueError):
    """A t-SNE or UMAP view cannot be computed (a message for the user)."""


def method_name(method: str) -> str:
    return METHODS[method][0]


def missing_dependency(method: str) -> str:
    """How to install what ``method`` needs ("" when it is installed). Does not import it."""
    name, module, package = METHODS[method]
    if importlib.util.find_spec(module) is not None:
        return ""
    return (f"{name} needs the {package} package, which is not installed. Install it with {EXTRA_HINT} "
            f"(or pip install {package}) and restart VAE Studio.")


def idw_lift(xy: np.ndarray, latents: np.ndarray, query, k: int = NEIGHBOURS, power: float = 2.0) -> np.ndarray:
    """Inverse-distance-weighted mean of the ``latents`` (N, D) of the ``k`` rows of ``xy`` (N, 2) nearest to
    ``query`` (2,): weights 1 / distance**power. At (within rounding of) a point, that point's latent."""
    return _idw(np.asarray(xy, np.float64), np.asarray(latents), np.asarray(query, np.float64).reshape(-1), k,
                power)


def _idw(points: np.ndarray, values: np.ndarray, query: np.ndarray, k: int, power: float) -> np.ndarray:
    if len(points) == 0:
        raise ValueError("no points to weigh")
    d2 = np.square(points - query).sum(1)
    k = max(1, min(int(k), len(points)))
    near = np.argpartition(d2, k - 1)[:k] if k < len(points) else np.arange(len(points))
    d = np.sqrt(d2[near])
    scale = max(float(np.sqrt(np.square(points - points.mean(0)).sum(1).mean())), 1e-300)
    hit = d <= 1e-9 * scale
    if hit.any():
        return np.asarray(values[near[np.argmax(hit)]], np.float64)
    w = d ** -float(power)
    return (w / w.sum()) @ np.asarray(values[near], np.float64)


@dataclass(eq=False)
class Embedding:
    method: str  # TSNE or UMAP
    xy: np.ndarray  # (N, 2) the layout of the fitted points
    latents: np.ndarray  # (N, D) the latent means it was fitted on (row i: point i)
    fitted: object = field(default=None, repr=False)  # the library's fitted object (for transform)

    @property
    def name(self) -> str:
        return method_name(self.method)

    def lift(self, x: float, y: float, k: int = NEIGHBOURS) -> np.ndarray:
        """An approximate latent vector at plot position (x, y) (see :func:`idw_lift`)."""
        return idw_lift(self.xy, self.latents, (x, y), k).astype(np.float32)

    def place(self, z, k: int = NEIGHBOURS) -> np.ndarray:
        """Approximate plot positions (M, 2) of latent vectors ``z`` (D,) or (M, D), from their nearest
        fitted means (inverse-distance weighted); for the probe, where :meth:`transform` would be slow."""
        z = np.atleast_2d(np.asarray(z, np.float64))
        lat = np.asarray(self.latents, np.float64)
        return np.stack([_idw(lat, self.xy, row, k, 2.0) for row in z]) if len(z) else np.zeros((0, 2))

    def transform(self, z) -> np.ndarray:
        """Plot positions (M, 2) of new latent vectors by the method's own transform (slow: run it in the
        background)."""
        z = np.atleast_2d(np.asarray(z, np.float32))
        if self.fitted is None:
            return self.place(z)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.fitted.transform(z), np.float64).reshape(-1, 2)


class _Cancelled(Exception):
    pass


def fit_embedding(state, latents: np.ndarray, method: str, seed: int = 0) -> Embedding | None:
    """A t-SNE or UMAP layout of ``latents`` (N, D); None if ``state`` was cancelled.

    Raises :class:`EmbeddingError` when the method's package is missing or there are too few points."""
    if method not in METHODS:
        raise EmbeddingError(f"unknown projection {method!r}")
    latents = np.ascontiguousarray(latents, np.float32)
    if latents.ndim != 2 or len(latents) < MIN_POINTS:
        raise EmbeddingError(f"{method_name(method)} needs at least {MIN_POINTS} points, "
                             f"the split has {len(latents)}")
    problem = missing_dependency(method)
    if problem:
        raise EmbeddingError(problem)
    state.set_status(f"Loading {METHODS[method][2]}…")
    fit = _fit_tsne if method == TSNE else _fit_umap
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the libraries' notes (perplexity lowered, n_jobs...)
            xy, fitted = fit(state, latents, seed)
    except _Cancelled:
        return None
    if state.is_cancelled():
        return None
    return Embedding(method, np.asarray(xy, np.float64), latents, fitted)


def _threads() -> int:
    return max(1, (os.cpu_count() or 1) - 1)  # a core for the GUI


def _fit_tsne(state, latents: np.ndarray, seed: int):
    import openTSNE

    total = TSNE_EXAGGERATION_ITER + TSNE_ITER
    every = 10
    done = [0]

    def on_iterations(*_args) -> bool:  # openTSNE's callback: True stops the optimisation
        done[0] += every
        state.set_progress(0.1 + 0.9 * min(done[0], total) / total)
        return state.is_cancelled()

    state.set_status("t-SNE: finding each point's neighbours…")
    state.set_progress(0.0)
    tsne = openTSNE.TSNE(n_components=2, perplexity=min(30.0, (len(latents) - 1) / 3), random_state=seed,
                         n_jobs=_threads(), early_exaggeration_iter=TSNE_EXAGGERATION_ITER, n_iter=TSNE_ITER,
                         callbacks=on_iterations, callbacks_every_iters=every, verbose=False)
    embedding = tsne.fit(latents)
    if state.is_cancelled():
        raise _Cancelled
    return np.asarray(embedding), embedding


class _UmapProgress:
    """A file for umap-learn's tqdm bar (its documented ``tqdm_kwds``): reads "epoch/total" from each line
    written and reports it. It never raises: tqdm writes while holding its process-wide lock without a
    ``finally``, so an exception here would leave that lock held and hang every later tqdm user (torch's
    exporter among them). UMAP's layout therefore runs to its end once started; a cancelled fit's result is
    dropped (the checks before and after it still apply)."""

    def __init__(self, state):
        self.state = state

    def write(self, text: str) -> None:
        found = re.findall(r"(\d+)/(\d+)", text)
        if found and not self.state.is_cancelled():
            n, total = map(int, found[-1])
            self.state.set_progress(0.3 + 0.7 * n / max(total, 1))

    def flush(self) -> None:
        pass


def _fit_umap(state, latents: np.ndarray, seed: int):
    state.set_status("UMAP: loading umap-learn and numba (the first time compiles for a while)…")
    import umap

    if state.is_cancelled():
        raise _Cancelled
    state.set_status("UMAP: finding each point's neighbours, then laying them out…")
    state.set_progress(0.05)
    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(latents) - 1), random_state=seed,
                        tqdm_kwds={"disable": False, "file": _UmapProgress(state), "mininterval": 0.1,
                                   "ascii": True})
    xy = reducer.fit_transform(latents)
    if state.is_cancelled():
        raise _Cancelled
    reducer.tqdm_kwds = {"disable": True}  # its later transforms (the user's images) report nothing
    return xy, reducer


def transform_points(state, embedding: Embedding, points) -> list[tuple[str, np.ndarray, np.ndarray]] | None:
    """Task function: (label, latent vector, plot position) of the user's (label, latent vector) points,
    placed by ``embedding``'s method (see :meth:`Embedding.transform`); None if cancelled."""
    out = []
    for label, z in points:
        if state.is_cancelled():
            return None
        z = np.asarray(z, np.float32).reshape(-1)
        out.append((label, z, embedding.transform(z)[0]))
    return out
