"""The metrics panel's words and tables: what each metric is called and means, how a value is written, and
a table that asks for exactly the height of the rows it shows."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import QAbstractItemView, QTableWidget

EMPTY_TEXT = "Train or open a run to see how good it is"
DASH = "\u2014"
COMPARE_COLUMNS = ("Run", "Model", "\u03b2", "\u03b3", "\u2212ELBO", "Recon", "KL", "IWAE NLL", "Active units", "MIG")
COMPARE_TIPS = (
    "Run name (click a row to select the run)",
    "The model variant (as in the Model list of the training settings)",
    "Weight on the KL term",
    "Weight on the reconstruction term",
    "Negative ELBO on the test split, nats per image (last epoch); lower is better",
    "Reconstruction term (distortion), nats per image",
    "KL(q(z|x) || p(z)) (rate), nats per image",
    "Importance-weighted bound on -log p(x), nats per image (computed metrics)",
    "Dimensions whose posterior mean varies over the test split (variance > 0.01)",
    "Mutual Information Gap against the data's known factors (0..1, higher = more disentangled)",
)
# rows of the selected run's view: (label, key, tooltip)
METRIC_ROWS = (
    ("Negative ELBO", "neg_elbo", "recon + KL on the test split, nats per image; lower is better. With BCE it "
                                  "is an upper bound on -log p(x)."),
    ("Reconstruction", "recon", "Reconstruction term (distortion), nats per image"),
    ("KL (rate)", "kl", "KL(q(z|x) || N(0, I)), nats per image: how much the code says about each image"),
    ("IWAE NLL", "iwae_nll", "Importance-weighted bound on -log p(x) with K samples (Burda et al. 2016): "
                             "tighter than the negative ELBO; lower is better"),
    ("Active units", "active_units", "Latent dimensions whose posterior mean varies over the test split "
                                     "(variance > 0.01, Burda et al. 2016); the rest are unused"),
    ("MIG", "mig", "Mutual Information Gap (Chen et al. 2018, as in disentanglement_lib): for each known "
                   "factor, the gap between the two latent dimensions that know most about it, over the "
                   "factor's entropy; 0..1, higher = more disentangled"),
    ("FactorVAE score", "factorvae", "Kim & Mnih 2018: accuracy of a majority-vote classifier that finds the "
                                     "fixed factor from the least-varying latent dimension; chance = 1 / factors"),
    ("KL per dimension", "kl_per_dim", "KL of each latent dimension, nats; near 0 = the dimension is unused"),
)

# rows of other latent spaces' metrics (a discrete code grid: no ELBO is claimed)
CODE_ROWS = (  # (with "recon" from METRIC_ROWS)
    ("Codebook perplexity", "perplexity", "exp(entropy) of the test split's code histogram: how many codes are "
                                          "used, counting each by its share; at most the codebook size"),
    ("Codes in use", "codes_in_use", "Codes that at least one cell of the test split uses; the rest are dead"),
    ("Prior NLL", "prior_nll", "The fitted prior's −log p(code grid) of the test images, nats per image; lower "
                               "is better (Sampling ▸ Fit prior)"),
    ("Prior NLL per code", "prior_bits_per_code", "The same in bits per cell of the code grid (bits per "
                                                  "dimension of the discrete latent)"),
)
_ROWS = {key: (label, key, tip) for label, key, tip in (*METRIC_ROWS, *CODE_ROWS)}
# the rows each metric of a latent space (``core/latent_space.py``: ``space.metrics``) brings, in order
ROWS_OF_METRIC = {"neg_elbo": ("neg_elbo", "recon", "kl"), "disentanglement": ("mig", "factorvae"),
                  "prior_nll": ("prior_nll", "prior_bits_per_code")}


def metric_rows(metrics) -> tuple[tuple[str, str, str], ...]:
    """The selected run's rows for the metrics that apply to its latent space (``space.metrics``); a Gaussian
    latent space gets :data:`METRIC_ROWS`, the KL per dimension last wherever a KL is reported."""
    keys = [k for m in metrics for k in ROWS_OF_METRIC.get(m, (m,)) if k in _ROWS]
    if "kl" in keys:
        keys.append("kl_per_dim")
    return tuple(_ROWS[k] for k in keys)


def compact_table(table: QTableWidget) -> None:
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)


def table_height(table: QTableWidget, rows: int) -> int:
    """Height that shows the header and ``rows`` rows without a scroll bar."""
    return (table.horizontalHeader().sizeHint().height() + rows * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth() + 2)


def axis_span(values, rel: float = 0.1, least: float = 1.0) -> tuple[float, float] | None:
    """The part of an axis the rate-distortion plot must show for ``values``: their range, widened around its
    centre to at least ±max(``rel`` × the value, ``least``) nats (so a single run, or runs that almost
    coincide, do not give a zero-width range with absurd ticks); never below 0 when no value is negative.
    None when no value is finite."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    lo, hi = float(v.min()), float(v.max())
    centre = (lo + hi) / 2
    half = max((hi - lo) / 2, rel * max(abs(lo), abs(hi)), least)
    a, b = centre - half, centre + half
    if lo >= 0 and a < 0:
        a = 0.0
    return a, b


class FitTable(QTableWidget):
    """A table that asks for the height of ``show_rows`` rows but can shrink to ``least_rows`` (then it
    scrolls), so that the panel fits a short screen and uses a tall one."""

    show_rows, least_rows, extra = 1, 1, 0

    def set_rows_shown(self, show: int, least: int, extra: int = 0) -> None:
        self.show_rows, self.least_rows, self.extra = show, min(least, show), extra
        self.setMaximumHeight(table_height(self, show) + extra)
        self.updateGeometry()

    def sizeHint(self):  # noqa: N802 - Qt API
        hint = super().sizeHint()
        hint.setHeight(table_height(self, self.show_rows) + self.extra)
        return hint

    def minimumSizeHint(self):  # noqa: N802
        hint = super().minimumSizeHint()
        hint.setHeight(table_height(self, self.least_rows) + self.extra)
        return hint


def fmt(v, digits: int = 2) -> str:
    return DASH if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def metric_text(key: str, values: dict, res: dict | None) -> str:
    v = values.get(key)
    if key == "kl_per_dim":
        return " ".join(f"{x:.2f}" for x in v) if v else DASH
    if res is None and v is None:  # not in the last epoch's record either
        return f"{DASH} (press Compute metrics)"
    if key == "iwae_nll":
        return f"{v:.2f} nats (K={values.get('iwae_k')})" if v is not None else f"n/a: {values.get('iwae_note', '')}"
    if key == "active_units":
        if v is None:
            return DASH
        per, dims = values.get("active_units_per_level"), values.get("level_dims")
        levels = (" per level: " + ", ".join(f"z{i + 1} {a} of {d}" for i, (a, d) in enumerate(zip(per, dims)))
                  if per and dims else "")
        return f"{v} of {values.get('latent_dim')}" + (f" (top level;{levels})" if levels else "")
    if key in ("perplexity", "codes_in_use"):
        if v is None:
            return DASH
        k = values.get("codebook_size")
        return f"{v:.1f}" if key == "perplexity" else f"{v:.0f}" + (f" of {k}" if k else "")
    if key in ("prior_nll", "prior_bits_per_code"):
        if v is None:
            return f"n/a: {values.get('prior_note') or 'no prior fitted'}"
        return f"{v:.2f} nats per image" if key == "prior_nll" else f"{v:.3f} bits per code"
    if key in ("mig", "factorvae"):
        if v is None:
            return "n/a: the data set has no known factors"
        if key == "factorvae":
            return f"{v:.3f} (train {values.get('factorvae_train', 0):.3f})"
        names, per = values.get("factor_names") or [], values.get("mig_per_factor") or []
        return f"{v:.3f}  (" + ", ".join(f"{n} {fmt(p)}" for n, p in zip(names, per)) + ")"
    return f"{fmt(v)} nats" if v is not None else DASH


def objective_rows(variant, values: dict, shown=()) -> list[tuple[str, str, str]]:
    """Rows (label, text, tooltip) for the run's own objective: its training loss and each of its own terms,
    from ``values`` (the computed metrics, or the last epoch's test record: ``objective_total`` and the terms
    by name); terms named in ``shown`` (already metric rows) are left out."""
    total = values.get("objective_total")
    rows = [(f"Training loss ({variant.name})", f"{fmt(total)} nats" if total is not None else DASH,
             f"The loss {variant.title} trains on, on the test split, nats per image")]
    for name in (t for t in variant.terms if t not in shown):
        v = values.get(name)
        text = DASH if v is None or not math.isfinite(v) else f"{v:.4g}"
        rows.append((variant.term_titles.get(name, name), text,
                     f"{variant.title}'s own term '{name}' on the test split ({variant.paper})"))
    return rows


def metric_tip(key: str, values: dict) -> str:
    if key == "kl_per_dim" and values.get("kl_per_dim"):
        return "\n".join(f"z{i}: {x:.3f} nats" for i, x in enumerate(values["kl_per_dim"]))
    if key == "iwae_nll" and values.get("iwae_note"):
        return values["iwae_note"]
    return ""
