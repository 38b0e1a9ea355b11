"""How long the latent explorer's approximate views take: t-SNE (openTSNE) and UMAP (umap-learn) of 10,000
latent means, as the explorer computes them (core/embedding.py's fit_embedding, with its progress reports
and cancellation checks), and the probe's lift on them (inverse-distance weighting of the 8 nearest points).

Data: the 20-d means of a VAE's test split would do; the timing depends on the number of points and the
dimension, not on what they mean, so this uses 10 Gaussian clusters in 20 dimensions (seeded). UMAP's first
fit in a fresh process also compiles its numba functions: that run is reported separately.

    python benchmarks/projections.py [--points 10000] [--dim 20] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


class State:
    def is_cancelled(self):
        return False

    def set_progress(self, _f):
        pass

    def set_status(self, _t):
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=20)
    args = ap.parse_args()
    from vae_studio.core.embedding import fit_embedding, idw_lift, missing_dependency

    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5.0, size=(10, args.dim))
    z = (centres[np.arange(args.points) % 10] + rng.normal(size=(args.points, args.dim))).astype(np.float32)
    print(f"{args.points:,} points in {args.dim} dimensions")
    for method, runs in (("tsne", ("first", "second")), ("umap", ("first (compiles)", "second"))):
        problem = missing_dependency(method)
        if problem:
            print(f"{method}: skipped ({problem})")
            continue
        for label in runs:
            t = time.perf_counter()
            e = fit_embedding(State(), z, method, seed=0)
            print(f"{e.name:6s} fit, {label:17s}: {time.perf_counter() - t:6.1f} s")
        t = time.perf_counter()
        e.transform(z[:5])
        print(f"{e.name:6s} transform of 5 new points: {1000 * (time.perf_counter() - t):.0f} ms")
        lo, hi = e.xy.min(0), e.xy.max(0)
        qs = rng.uniform(lo, hi, size=(200, 2))
        times = []
        for q in qs:
            t = time.perf_counter()
            idw_lift(e.xy, e.latents, q)
            times.append(1000 * (time.perf_counter() - t))
        print(f"{e.name:6s} probe lift (IDW, 8 nearest): median {statistics.median(times):.2f} ms, "
              f"p95 {np.percentile(times, 95):.2f} ms")


if __name__ == "__main__":
    main()
