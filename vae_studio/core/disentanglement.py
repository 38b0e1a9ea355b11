"""Disentanglement scores of a code against known generative factors, in plain NumPy.

Both scores follow google-research/disentanglement_lib (Locatello et al. 2019), which is what published
tables use:

- :func:`mutual_info_gap` is its ``discrete_mig`` (Chen et al. 2018): every code dimension is binned into a
  20-bin histogram (``np.histogram`` bin edges per dimension, ``np.digitize``), the discrete mutual
  information of every (dimension, factor) pair is computed from the joint counts (what sklearn's
  ``mutual_info_score`` does), and the gap between the best and the second-best dimension of each factor,
  divided by that factor's entropy, is averaged over the factors. In [0, 1]; higher is better.
- :func:`factor_vae_score` is its ``factor_vae_score`` (Kim & Mnih 2018): dimensions whose global standard
  deviation is below a threshold are pruned; for each vote one factor is held fixed over a batch of 64
  samples, the code's per-dimension variance in that batch is divided by its global variance (the code
  normalised by its global standard deviation), and the dimension with the smallest normalised variance
  votes for the factor; a majority-vote classifier (dimension -> factor) is read off the training votes and
  its accuracy is reported on training and on fresh evaluation votes. Chance is about 1 / number of factors.

One deliberate difference: disentanglement_lib draws every batch by rendering new observations from sampled
factors; here the code of every image is computed once and batches are drawn from the images that share the
fixed factor's value (the same distribution for a full factor grid, and far cheaper). Its argmin index over
the *pruned* dimensions is mapped back to the full dimension index here (in disentanglement_lib it is used
as is, which only matters when a dimension is pruned).

Natural logarithms throughout: mutual information and entropies are in nats.
"""
from __future__ import annotations

import numpy as np

MIG_BINS = 20


def histogram_discretize(codes: np.ndarray, num_bins: int = MIG_BINS) -> np.ndarray:
    """(N, D) continuous codes -> (N, D) int bin indices in 1..num_bins, per dimension.

    As disentanglement_lib's ``_histogram_discretize``: the left edges of ``np.histogram(column, num_bins)``
    passed to ``np.digitize``. A constant column falls into a single bin."""
    codes = np.asarray(codes, dtype=np.float64)
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], num_bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information (nats) of two discrete label vectors, from their joint counts.

    Equal to ``sklearn.metrics.mutual_info_score(a, b)``."""
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    n = len(a)
    if n == 0:
        return 0.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    joint = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.float64)
    np.add.at(joint, (ai, bi), 1.0)
    pa = joint.sum(1, keepdims=True)
    pb = joint.sum(0, keepdims=True)
    nz = joint > 0
    # sum_ij p_ij log(p_ij / (p_i p_j)) with counts: p_ij = c_ij / n
    mi = (joint[nz] / n) * (np.log(joint[nz]) + np.log(n) - np.log((pa @ pb)[nz]))
    return float(max(mi.sum(), 0.0))


def discrete_entropy(labels: np.ndarray) -> float:
    """Entropy (nats) of a discrete label vector (= its mutual information with itself)."""
    _, counts = np.unique(np.asarray(labels).ravel(), return_counts=True)
    p = counts / counts.sum() if counts.sum() else counts
    return float(-(p * np.log(p)).sum()) if len(p) else 0.0


def mutual_info_matrix(codes: np.ndarray, factors: np.ndarray, num_bins: int = MIG_BINS) -> np.ndarray:
    """(D, F) mutual information (nats) of every binned code dimension with every factor."""
    binned = histogram_discretize(codes, num_bins)
    factors = np.asarray(factors)
    return np.array([[discrete_mutual_info(binned[:, i], factors[:, j]) for j in range(factors.shape[1])]
                     for i in range(binned.shape[1])])


def mutual_info_gap(codes: np.ndarray, factors: np.ndarray, num_bins: int = MIG_BINS) -> dict:
    """disentanglement_lib's ``discrete_mig`` of ``codes`` (N, D) against integer ``factors`` (N, F).

    Returns ``mig`` (mean over factors), ``mig_per_factor`` (list, None for a factor that never varies) and
    ``mi`` (D x F nested list, nats). With fewer than two code dimensions the gap is undefined: 0."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError("codes (N, D) and factors (N, F) must have the same number of rows")
    m = mutual_info_matrix(codes, factors, num_bins)
    entropy = np.array([discrete_entropy(factors[:, j]) for j in range(factors.shape[1])])
    per_factor: list[float | None] = []
    for j in range(factors.shape[1]):
        if entropy[j] <= 0:
            per_factor.append(None)  # a constant factor carries no information to capture
            continue
        col = np.sort(m[:, j])[::-1]
        gap = col[0] - col[1] if len(col) > 1 else 0.0
        per_factor.append(float(gap / entropy[j]))
    valid = [g for g in per_factor if g is not None]
    return {"mig": float(np.mean(valid)) if valid else 0.0, "mig_per_factor": per_factor, "mi": m.tolist()}


def _factor_groups(factors: np.ndarray) -> list[dict[int, np.ndarray]]:
    """For every factor, value -> indices of the rows that have it."""
    groups = []
    for j in range(factors.shape[1]):
        col = factors[:, j]
        groups.append({int(v): np.flatnonzero(col == v) for v in np.unique(col)})
    return groups


def _votes(codes, factors, groups, rng, batch_size, num_points, global_var, active) -> np.ndarray:
    """(F, D) votes: how often dimension d had the smallest normalised variance with factor f fixed."""
    n, d = codes.shape
    f = factors.shape[1]
    active_idx = np.flatnonzero(active)
    votes = np.zeros((f, d), dtype=np.int64)
    chunk = 512
    for start in range(0, num_points, chunk):
        k = min(chunk, num_points - start)
        fixed = rng.integers(f, size=k)
        anchors = rng.integers(n, size=k)  # the fixed value: that of a random sample (uniform on a grid)
        idx = np.empty((k, batch_size), dtype=np.int64)
        for r in range(k):
            members = groups[fixed[r]][int(factors[anchors[r], fixed[r]])]
            idx[r] = members[rng.integers(len(members), size=batch_size)]
        local_var = codes[idx][:, :, active_idx].var(axis=1, ddof=1)  # (k, A)
        argmin = active_idx[np.argmin(local_var / global_var[active_idx], axis=1)]
        np.add.at(votes, (fixed, argmin), 1)
    return votes


def factor_vae_score(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0, batch_size: int = 64,
                     num_train: int = 10000, num_eval: int = 5000, num_variance_estimate: int = 10000,
                     prune_threshold: float = 0.05) -> dict:
    """disentanglement_lib's FactorVAE score of ``codes`` (N, D) against integer ``factors`` (N, F).

    Defaults are disentanglement_lib's study settings (batch 64, 10,000 training votes, 5,000 evaluation
    votes, global variances from 10,000 samples, dimensions with global std < 0.05 pruned). Returns
    ``factorvae_train``, ``factorvae_eval`` (the score: evaluation accuracy in [0, 1]) and
    ``factorvae_active_dims``."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or len(codes) < 2:
        raise ValueError("codes (N, D) and factors (N, F) must have the same number (>= 2) of rows")
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(codes), size=min(num_variance_estimate, len(codes)), replace=False)
    global_var = codes[sample].var(axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    if not active.any():
        return {"factorvae_train": 0.0, "factorvae_eval": 0.0, "factorvae_active_dims": 0}
    groups = _factor_groups(factors)
    train_votes = _votes(codes, factors, groups, rng, batch_size, num_train, global_var, active)
    classifier = np.argmax(train_votes, axis=0)  # dimension -> factor
    cols = np.arange(codes.shape[1])
    train_acc = train_votes[classifier, cols].sum() / max(train_votes.sum(), 1)
    eval_votes = _votes(codes, factors, groups, rng, batch_size, num_eval, global_var, active)
    eval_acc = eval_votes[classifier, cols].sum() / max(eval_votes.sum(), 1)
    return {"factorvae_train": float(train_acc), "factorvae_eval": float(eval_acc),
            "factorvae_active_dims": int(active.sum())}
