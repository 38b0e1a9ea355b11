"""MIG and the FactorVAE score: high for a code that copies the factors, near zero / chance for noise."""
import math

import numpy as np
import pytest

from vae_studio.core.disentanglement import (discrete_entropy, discrete_mutual_info, factor_vae_score,
                                             histogram_discretize, mutual_info_gap)

SIZES = (3, 6, 10, 8, 8)


def factor_grid(sizes=SIZES):
    grids = np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def test_mutual_information_matches_closed_forms():
    a = np.repeat(np.arange(4), 25)
    assert discrete_mutual_info(a, a) == pytest.approx(math.log(4))
    assert discrete_entropy(a) == pytest.approx(math.log(4))
    # a full product of two factors: independent, exactly zero information
    f = factor_grid((4, 5))
    assert discrete_mutual_info(f[:, 0], f[:, 1]) == pytest.approx(0.0, abs=1e-12)
    # a relabelled copy carries the same information
    assert discrete_mutual_info(a, 10 - 3 * a) == pytest.approx(math.log(4))


def test_histogram_discretize_uses_twenty_bins_per_dimension():
    rng = np.random.default_rng(0)
    codes = np.stack([rng.normal(size=1000), 100 * rng.uniform(size=1000), np.zeros(1000)], axis=1)
    binned = histogram_discretize(codes)
    assert binned[:, 0].min() == 1 and binned[:, 0].max() == 20
    assert binned[:, 1].min() == 1 and binned[:, 1].max() == 20  # per-dimension edges: scale does not matter
    assert len(np.unique(binned[:, 2])) == 1  # a constant dimension is one bin


def test_mig_near_one_for_a_code_that_copies_the_factors():
    f = factor_grid()
    rng = np.random.default_rng(1)
    codes = np.concatenate([f * 0.7 + 0.01 * rng.normal(size=f.shape), rng.normal(size=(len(f), 3))], axis=1)
    res = mutual_info_gap(codes, f)
    assert res["mig"] > 0.95
    assert len(res["mig_per_factor"]) == 5 and np.array(res["mi"]).shape == (8, 5)


def test_mig_near_zero_for_noise_and_for_an_entangled_code():
    f = factor_grid()
    rng = np.random.default_rng(2)
    assert mutual_info_gap(rng.normal(size=(len(f), 8)), f)["mig"] < 0.05
    # every factor copied into two dimensions: full information, but no gap
    dup = np.concatenate([f, f + 0.001 * rng.normal(size=f.shape)], axis=1).astype(float)
    assert mutual_info_gap(dup, f)["mig"] < 0.05


def test_mig_skips_constant_factors():
    f = factor_grid((4, 5))
    f = np.concatenate([f, np.zeros((len(f), 1), int)], axis=1)
    res = mutual_info_gap(f[:, :2].astype(float), f)
    assert res["mig_per_factor"][2] is None
    assert res["mig"] == pytest.approx(1.0)


def test_factor_vae_score_high_for_copied_factors_chance_for_noise():
    f = factor_grid()
    rng = np.random.default_rng(3)
    copy = np.concatenate([f + 0.05 * rng.normal(size=f.shape), np.zeros((len(f), 2))], axis=1)
    good = factor_vae_score(copy, f, num_train=800, num_eval=400, seed=0)
    assert good["factorvae_eval"] > 0.95 and good["factorvae_train"] > 0.95
    assert good["factorvae_active_dims"] == 5  # the two constant dimensions are pruned
    noise = factor_vae_score(rng.normal(size=(len(f), 7)), f, num_train=800, num_eval=400, seed=0)
    assert noise["factorvae_eval"] < 0.35  # chance is 1/5 (plus what a majority vote overfits)


def test_factor_vae_score_is_zero_when_every_dimension_is_pruned():
    f = factor_grid((3, 4))
    res = factor_vae_score(np.zeros((len(f), 4)), f, num_train=50, num_eval=50)
    assert res == {"factorvae_train": 0.0, "factorvae_eval": 0.0, "factorvae_active_dims": 0}


def test_scores_are_reproducible_with_a_seed():
    f = factor_grid((3, 6, 10))
    codes = np.random.default_rng(4).normal(size=(len(f), 4)) + f[:, :1]
    a = factor_vae_score(codes, f, num_train=200, num_eval=100, seed=7)
    b = factor_vae_score(codes, f, num_train=200, num_eval=100, seed=7)
    assert a == b
