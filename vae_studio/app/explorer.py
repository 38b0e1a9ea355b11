"""The latent explorer's state and logic, without widgets: what the latent panel shows and how the plot's
two coordinates map to the model's latent vectors and back.

For one run at a time, :class:`LatentExplorer` holds the encoded test split (means, log-variances, labels,
KL per dimension), the projection (two latent dimensions, or the first two principal components of the
means: exact views; or a t-SNE / UMAP layout fitted in the background: approximate, see ``approximate``),
the probe (a full latent vector) and the anchor that supplies the dimensions the projection does not show. ``project`` maps latent vectors to the plot, ``lift`` maps a plot position back to a latent vector.
The latent panel (``ui/latent``) is a view of it: it forwards what the user does and redraws from it.

Rules it keeps:
* the axes follow the KL order (most active dimensions first) until the user picks them;
* PCA is fitted when the user switches to it (or asks to refit) and otherwise kept while the run trains,
  so that the view stays put;
* whenever what the axes show changes, the probe's vector is kept and becomes the anchor, so the next drag
  starts from where the probe is;
* a run that has not finished its first epoch is not encoded (its random weights show nothing) unless the
  user follows it live.

(A little over 400 lines: one class, because these rules share its state: the split, the view and the probe.)
"""
from __future__ import annotations

import numpy as np

from ..core.embedding import METHODS as EMBEDDINGS, Embedding
from ..core.latent import PCA, dims_by_kl, fit_pca
from ..core.latent_space import space_for
from ..core.neighbours import NeighbourIndex

DIMS, PCA_MODE = "dims", "pca"
TSNE_MODE, UMAP_MODE = "tsne", "umap"  # approximate views (core/embedding.py), fitted in the background
# where an anchor comes from, in words
ORIGIN, OTHER_PANEL, OLD_DATA = "origin", "vector from another panel", "mean of a point of the previous data set"
PROBE = "where the probe was"


def fit_pca_of_means(mu: np.ndarray, max_values: int = 2_000_000) -> PCA | None:
    """PCA of the means, fitted on an even subsample when the split is big (at most ``max_values`` numbers);
    None for fewer than two points."""
    if len(mu) < 2:
        return None
    step = max(1, -(-mu.size // max_values))
    return fit_pca(mu[::step])


def encoding_problem(run, data) -> str:
    """Why the test split of ``data`` cannot be encoded by ``run``'s model ("" when it can)."""
    if data is None:
        return "No data set is loaded: load one to see its test split here."
    m = run.config.model
    if (data.channels, data.image_size) != (m.channels, m.image_size):
        return (f"The data set's images ({data.image_size}x{data.image_size}, {data.channels} channel(s)) do "
                f"not fit this model ({m.image_size}x{m.image_size}, {m.channels}): load its data set "
                "to see the scatter.")
    if run.model.conditional and (data.test_y is None or data.num_classes != run.model.num_classes):
        return "This conditional model needs a data set with its class labels to encode the test split."
    if len(data.test_x) == 0:
        return "The data set has no test images."
    return ""


def waits_for_first_epoch(run, live: bool) -> bool:
    """A run that trains and has no finished epoch has nothing to show yet, unless the user follows it live."""
    return run.status.active and not run.history.epochs and not live


class LatentExplorer:
    """State of the latent explorer for the selected run (``dim`` 0: no run)."""

    def __init__(self) -> None:
        self.mode = DIMS  # the projection the user asked for (kept from run to run)
        self.level: int | None = None  # the level shown, for a model with levels (None: the top)
        self.resample_lower = False  # levels below the one shown: resampled (True) or at their means
        self.clear()

    def space_of(self, model):
        """The latent space the explorer shows for ``model``: its coordinates, decoding and prior, at the
        chosen level (for a model with levels) with the levels below held at their means or resampled."""
        return space_for(model).view(self.level, self.resample_lower)

    def choose_level(self, level: int | None, resample_lower: bool) -> None:
        """Show another level (the caller then starts the run again at that level's size) or decode the
        levels below it another way."""
        self.level, self.resample_lower = level, bool(resample_lower)

    # -- the run -----------------------------------------------------------------------------------
    def clear(self) -> None:
        """No run: nothing to explore."""
        self.start_run(0)

    def start_run(self, dim: int, kl=None) -> None:
        """A new run of latent size ``dim``: no split yet, probe and anchor at the origin, axes in the order
        of ``kl`` (the run's last recorded KL per dimension, if any)."""
        self.dim = int(dim)
        self.mu = self.logvar = self.labels = None
        self.index: NeighbourIndex | None = None  # nearest test images to a latent vector (of self.mu)
        self.kl = np.asarray(kl, np.float64) if kl is not None and len(kl) == self.dim else None
        self.weights_epoch = 0  # the epoch of the weights that encoded the split (0: initial or within epoch 1)
        self.pca: PCA | None = None
        self._drop_embedding()
        self.probe = np.zeros(self.dim, np.float32)
        self._set_anchor(np.zeros(self.dim, np.float32), None, ORIGIN)
        self.dims_chosen = False
        self.dims: tuple[int | None, int | None] = (None, None)
        self._follow_kl_order()
        if self.dim < 2:
            self.mode = DIMS

    # -- the encoded split -------------------------------------------------------------------------
    def set_split(self, mu: np.ndarray, logvar: np.ndarray, labels: np.ndarray | None, kl: np.ndarray,
                  epoch: int = 0) -> bool:
        """The test split encoded by the weights of ``epoch``; False (and ignored) when it does not fit the
        run. The probe keeps its vector; the axes re-order by the new KL unless the user chose them."""
        if self.dim == 0 or mu.ndim != 2 or mu.shape[1] != self.dim:
            return False
        before = self._view()
        self.mu, self.logvar, self.labels = mu, logvar, labels
        self.index = NeighbourIndex(mu)
        if len(mu):
            self.kl = np.asarray(kl, np.float64)  # of these weights, over the whole split
        self.weights_epoch = int(epoch)
        self._follow_kl_order()
        if self.pca is None and self.mode == PCA_MODE:
            self.pca = fit_pca_of_means(mu)  # kept on later refreshes of this run: the view stays put
        if self.embedding is not None and len(self.embedding.xy) != len(mu):
            self._drop_embedding()  # a t-SNE / UMAP layout is kept (with its means) while the run trains
        self._view_changed_from(before)
        return True

    def clear_split(self) -> None:
        """Another data set: the split (and the PCA fitted on it) is gone; a picked point's mean stays the
        anchor but no longer names a point."""
        before = self._view()
        self.mu = self.logvar = self.labels = None
        self.index = None
        self.pca = None
        self._drop_embedding()
        if self.anchor_index is not None:
            self._set_anchor(self.anchor, None, OLD_DATA)
        self._view_changed_from(before)

    def nearest(self, k: int, z=None) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances) of the ``k`` test points whose means are nearest to ``z`` (default: the
        probe), nearest first; empty before the split is encoded."""
        z = self.probe if z is None else np.asarray(z, np.float32).reshape(-1)
        if self.index is None or len(z) != self.index.dim:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return self.index.query(z, k)

    @property
    def point_count(self) -> int:
        return 0 if self.mu is None else len(self.mu)

    # -- projection --------------------------------------------------------------------------------
    @property
    def projection(self) -> str:
        """The projection shown: PCA, t-SNE or UMAP once fitted, else two latent dimensions."""
        if self.mode == PCA_MODE and self.pca is not None:
            return PCA_MODE
        if self.mode in EMBEDDINGS and self.embedding is not None and self.embedding.method == self.mode:
            return self.mode
        return DIMS

    def set_mode(self, mode: str) -> None:
        """Show two latent dimensions (``DIMS``), the first two principal components (``PCA_MODE``, fitted
        now on the current means), or a t-SNE / UMAP layout (shown once :meth:`set_embedding` gives it)."""
        if mode not in (DIMS, PCA_MODE, *EMBEDDINGS):
            raise ValueError(f"unknown projection {mode!r}")
        self.mode = mode if self.dim >= 2 else DIMS
        if self.mode == PCA_MODE and self.mu is not None:
            self.pca = fit_pca_of_means(self.mu)
        self._anchor_at_probe()

    def refit_pca(self) -> bool:
        """Fit the principal components again on the current means (PCA mode only); False if nothing to do."""
        if self.mu is None or self.mode != PCA_MODE:
            return False
        self.pca = fit_pca_of_means(self.mu)
        self._anchor_at_probe()
        return True

    @property
    def order(self) -> list[int]:
        """The latent dimensions, most active (highest KL) first; in index order without a KL."""
        return dims_by_kl(self.kl) if self.kl is not None else list(range(self.dim))

    def choose_axis(self, axis: int, d: int | None) -> None:
        """The user shows dimension ``d`` on ``axis`` (0: horizontal, 1: vertical); the axes stop following
        the KL order. Choosing the dimension the other axis shows swaps the two."""
        old = self.dims
        new = list(old)
        new[axis] = d
        if d is not None and d == old[1 - axis]:
            new[1 - axis] = old[axis]
        self.dims_chosen = True
        if tuple(new) != old:
            before = self._view()
            self.dims = (new[0], new[1])
            self._view_changed_from(before)

    def project(self, z) -> np.ndarray:
        """Plot coordinates (N, 2) of latent vectors ``z`` (D,) or (N, D)."""
        z = np.atleast_2d(np.asarray(z, np.float64))
        if self.approximate:
            return self.embedding.place(z)
        if self.projection == PCA_MODE:
            return self.pca.project(z)
        dx, dy = self.dims
        y = z[:, dy] if dy is not None else np.zeros(len(z))
        return np.stack([z[:, dx], y], 1)

    def lift(self, x: float, y: float) -> np.ndarray:
        """The latent vector at plot position (x, y): the shown coordinates from (x, y), the rest from the
        anchor."""
        if self.approximate:
            return self.embedding.lift(x, y)
        base = self.anchor.astype(np.float64)
        if self.projection == PCA_MODE:
            return self.pca.lift(np.array([x, y]), base).astype(np.float32)
        dx, dy = self.dims
        base[dx] = x
        if dy is not None:
            base[dy] = y
        return base.astype(np.float32)

    def axis_names(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """((x, y) axis titles, (x, y) short names)."""
        if self.approximate:
            name = self.embedding.name
            return (f"{name} 1 (approximate)", f"{name} 2 (approximate)"), ("x", "y")
        if self.projection == PCA_MODE:
            long = tuple(f"PC{i + 1} ({100 * e:.0f}% of variance)" for i, e in enumerate(self.pca.explained))
            return (long[0], long[1]), ("PC1", "PC2")
        dx, dy = self.dims
        names = (f"z{dx}", f"z{dy}" if dy is not None else "(none)")
        return names, names

    # -- probe and anchor --------------------------------------------------------------------------
    @property
    def probe_xy(self) -> tuple[float, float]:
        if self.approximate and self._probe_at is not None and np.array_equal(self._probe_at[1], self.probe):
            return self._probe_at[0]  # where the user put it (placing its lifted vector is approximate)
        x, y = self.project(self.probe)[0]
        return float(x), float(y)

    def move_probe(self, x: float, y: float) -> np.ndarray:
        """The probe goes to plot position (x, y) (dragged, typed, clicked); returns its latent vector."""
        self.probe = self.lift(x, y)
        self._probe_at = ((float(x), float(y)), self.probe.copy())
        return self.probe.copy()

    def pick(self, index: int) -> bool:
        """The user clicked test point ``index``: its mean becomes the anchor and the probe; False if there is
        no such point."""
        if self.mu is None or not 0 <= index < len(self.mu):
            return False
        self._set_anchor(self.mu[index], int(index), "")
        self.probe = self.anchor.copy()
        return True

    def send_probe(self, z, source: str = OTHER_PANEL) -> None:
        """Put the probe (and the anchor) at the full latent vector ``z`` that ``source`` sent.

        Raises ValueError with a message for the user when ``z`` has the wrong size."""
        z = np.asarray(z, np.float32).reshape(-1)
        if len(z) != self.dim:
            raise ValueError(f"Cannot move the probe: the vector has {len(z)} dimensions, the model has {self.dim}")
        self._set_anchor(z, None, source)
        self.probe = z.copy()

    def reset_anchor(self) -> None:
        """The dimensions off the axes go to zero (the prior's mean); the probe stays at its plot position."""
        x, y = self.probe_xy
        self._set_anchor(np.zeros(self.dim, np.float32), None, ORIGIN)
        self.probe = self.lift(x, y)

    @property
    def anchor_text(self) -> str:
        """Where the anchor came from, in words."""
        if self.anchor_index is not None:
            return f"point #{self.anchor_index}"
        return self.anchor_source if self.anchor.any() else ORIGIN

    @property
    def picked_label(self) -> int | None:
        """The class of the picked point, if there is one and the split has labels."""
        if self.anchor_index is None or self.labels is None or self.anchor_index >= len(self.labels):
            return None
        return int(self.labels[self.anchor_index])

    def picked_xy(self) -> np.ndarray | None:
        """Plot position of the picked point (None when no point of this split is picked)."""
        i = self.anchor_index
        if i is None or self.mu is None or i >= len(self.mu):
            return None
        return self.embedding.xy[i] if self.approximate else self.project(self.mu[i])[0]

    def project_user_points(self, points) -> list[tuple[str, np.ndarray]]:
        """(label, plot position) of the user's (label, latent vector) points that fit this run."""
        if self.dim == 0:
            return []
        out = []
        for label, z in points:
            z = np.asarray(z).reshape(-1)
            if len(z) != self.dim:
                continue
            if not self.approximate:
                out.append((label, self.project(z)[0]))
            elif self._transformed_xy(label, z) is not None:  # placed by the method's transform
                out.append((label, self._transformed_xy(label, z)))
        return out

    # -- t-SNE and UMAP: approximate views (see core/embedding.py) -------------------------------------
    @property
    def approximate(self) -> bool:
        """Whether the view shown is a t-SNE or UMAP layout: plot positions map to latent vectors only
        approximately (inverse-distance weighting of the nearest embedded points)."""
        return self.projection in EMBEDDINGS

    def points_xy(self) -> np.ndarray:
        """Plot coordinates (N, 2) of the split's points in the view shown."""
        if self.mu is None:
            return np.zeros((0, 2))
        return np.asarray(self.embedding.xy) if self.approximate else self.project(self.mu)

    def needs_embedding(self) -> bool:
        """Whether the chosen view is a t-SNE / UMAP layout not fitted yet on an encoded split."""
        return self.mode in EMBEDDINGS and self.mu is not None and len(self.mu) > 0 and self.projection == DIMS

    def set_embedding(self, embedding: Embedding) -> bool:
        """A layout fitted on the current split; shown if it is of the chosen method (False: ignored)."""
        if self.mu is None or embedding.method != self.mode or len(embedding.xy) != len(self.mu):
            return False
        before = self._view()
        self.embedding = embedding
        self._transformed = {}
        self._probe_at = None
        self._view_changed_from(before)
        if before[0] == self.mode:
            self._anchor_at_probe()
        return True

    def cancel_embedding(self) -> None:
        """The user cancelled the layout: the chosen view becomes the one shown."""
        self.mode = self.projection

    def points_to_transform(self, points) -> list[tuple[str, np.ndarray]]:
        """The user's (label, latent vector) points that the shown layout has not placed yet."""
        if not self.approximate:
            return []
        out = []
        for label, z in points:
            z = np.asarray(z, np.float32).reshape(-1)
            if len(z) == self.dim and self._transformed_xy(label, z) is None:
                out.append((label, z))
        return out

    def set_transformed(self, embedding: Embedding, placed) -> None:
        """(label, latent vector, plot position) of user points placed by ``embedding``'s transform."""
        if embedding is self.embedding:
            for label, z, xy in placed:
                self._transformed[label] = (np.asarray(z, np.float32).reshape(-1), np.asarray(xy, np.float64))

    def _transformed_xy(self, label: str, z: np.ndarray) -> np.ndarray | None:
        known = self._transformed.get(label)
        return known[1] if known is not None and np.array_equal(known[0], z) else None

    def _drop_embedding(self) -> None:
        self.embedding: Embedding | None = None
        self._transformed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._probe_at = None

    # -- inside --------------------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        """Where the probe and the anchor are (for undo): restore it with :meth:`restore`."""
        return (self.probe.copy(), self.anchor.copy(), self.anchor_index, self.anchor_source)

    def restore(self, snap: tuple) -> bool:
        """Put the probe and the anchor back; False (nothing changed) if the latent size differs now."""
        probe, anchor, index, source = snap
        if len(probe) != self.dim:
            return False
        self.probe = probe.copy()
        self._set_anchor(anchor, index, source)
        return True

    def _set_anchor(self, z, index: int | None, source: str) -> None:
        self.anchor = np.asarray(z, np.float32).reshape(-1).copy()
        self.anchor_index = index
        self.anchor_source = source

    def _follow_kl_order(self) -> None:
        """Show the two most active dimensions (z0, z1 for a 2-d latent), unless the user chose the axes."""
        if self.dims_chosen:
            return
        if self.dim == 0:
            self.dims = (None, None)
        elif self.dim == 2:
            self.dims = (0, 1)
        else:
            order = self.order
            self.dims = (order[0], order[1] if self.dim > 1 else None)

    def _view(self) -> tuple:
        return (self.projection, self.dims)

    def _view_changed_from(self, before: tuple) -> None:
        """What the axes show changed: the probe's vector becomes the anchor (it supplies the dimensions now
        off the axes, so the next drag starts from where the probe is)."""
        if self._view() != before:
            self._anchor_at_probe()

    def _anchor_at_probe(self) -> None:
        """The probe's vector becomes the anchor; a picked point stays picked."""
        self.anchor = self.probe.copy()
        if self.anchor_index is None:
            self.anchor_source = PROBE
